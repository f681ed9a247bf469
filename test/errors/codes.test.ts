// docs/errors.md and src/errors/codes.ts must list the same codes with the same domain and retry flag.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { errorCodes, isSluiceError, SluiceError } from '../../src/errors/index.ts'

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')

function documented(): Map<string, { domain: string; retriable: boolean }> {
  const rows = new Map<string, { domain: string; retriable: boolean }>()
  for (const line of doc.split('\n')) {
    const m = /^\| `(SLUICE_ERR_[A-Z_]+)` \| (\w+) \| (yes|no) \|/.exec(line)
    if (m) rows.set(m[1], { domain: m[2], retriable: m[3] === 'yes' })
  }
  return rows
}

describe('error codes', () => {
  it('docs/errors.md lists exactly the codes of src/errors/codes.ts, with their domain and retry flag', () => {
    const rows = documented()
    assert.deepEqual([...rows.keys()].sort(), Object.keys(errorCodes).sort())
    for (const [code, spec] of Object.entries(errorCodes)) {
      assert.deepEqual(rows.get(code), { domain: spec.domain, retriable: spec.retriable }, code)
    }
  })

  it('an error carries its code, domain, retry flag and details', () => {
    const err = new SluiceError('SLUICE_ERR_IO', 'disk full', { details: { path: '/x' } })
    assert.equal(err.code, 'SLUICE_ERR_IO')
    assert.equal(err.domain, 'external')
    assert.equal(err.retriable, true)
    assert.deepEqual(err.toJSON().details, { path: '/x' })
    assert.ok(isSluiceError(err, 'SLUICE_ERR_IO'))
    assert.ok(!isSluiceError(new Error('x')))
  })
})
