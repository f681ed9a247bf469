// What the fraud tests share: an alerting service on loopback that keeps the first body of each idempotency key (so a
// retried or replayed alert counts once), answers 503 to the first attempt of some keys and counts every request; and
// the form alerts are compared in.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { ExpectedAlert } from '../../../apps/fraud/index.ts'

/** An alert as the ground truth has it: id, account, rule and transactions. */
export const canonical = (a: Pick<ExpectedAlert, 'alertId' | 'account' | 'rule' | 'txIds'>) =>
  JSON.stringify([a.alertId, a.account, a.rule, a.txIds])

export interface AlertReceiver {
  readonly url: string
  /** Bodies by idempotency key, first one kept. */
  readonly alerts: Map<string, unknown>
  /** Requests per idempotency key, retries and replays included. */
  readonly requests: Map<string, number>
  close(): Promise<void>
}

export async function alertReceiver(flaky: (key: string) => boolean = () => false): Promise<AlertReceiver> {
  const alerts = new Map<string, unknown>()
  const requests = new Map<string, number>()
  const server: Server = createServer(async (req, res) => {
    let body = ''
    for await (const chunk of req) body += chunk
    const key = String(req.headers['idempotency-key'])
    const n = (requests.get(key) ?? 0) + 1
    requests.set(key, n)
    if (n === 1 && flaky(key)) return res.writeHead(503).end()
    if (!alerts.has(key)) alerts.set(key, JSON.parse(body))
    res.writeHead(200).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    alerts,
    requests,
    async close() {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
