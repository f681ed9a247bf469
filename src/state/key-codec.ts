// Record keys become strings for state stores: strings stay as they are (the common case, and the fastest), other
// keys are JSON behind a marker byte that no string key may start with unescaped.

const MARK = '\u0001'

export function encodeKey(key: unknown): string {
  if (typeof key === 'string') return key.length > 0 && key.charCodeAt(0) <= 2 ? `\u0002${key}` : key
  return MARK + JSON.stringify(key === undefined ? null : key)
}

export function decodeKey(encoded: string): unknown {
  const c = encoded.charCodeAt(0)
  if (c === 1) return JSON.parse(encoded.slice(1))
  if (c === 2) return encoded.slice(1)
  return encoded
}
