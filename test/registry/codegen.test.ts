// TypeScript types generated from Avro, JSON Schema and Protobuf schemas: the expected declarations, and code that
// parses as TypeScript.
import assert from 'node:assert/strict'
import { stripTypeScriptTypes } from 'node:module'
import { describe, it } from 'node:test'
import { typescriptTypes } from '../../src/registry/codegen.ts'

function parses(code: string): void {
  assert.doesNotThrow(() => stripTypeScriptTypes(code), code)
}

describe('TypeScript code generation', () => {
  it('Avro: records, nested records, enums, unions, arrays, maps, bytes', () => {
    const schema = JSON.stringify({
      type: 'record',
      name: 'shop.Order',
      doc: 'An order.',
      fields: [
        { name: 'id', type: 'long' },
        { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID'] } },
        {
          name: 'lines',
          type: {
            type: 'array',
            items: { type: 'record', name: 'Line', fields: [{ name: 'sku', type: 'string' }] },
          },
        },
        { name: 'note', type: ['null', 'string'], default: null },
        { name: 'attrs', type: { type: 'map', values: 'double' } },
        { name: 'hash', type: { type: 'fixed', name: 'H', size: 4 } },
        { name: 'self', type: ['null', 'shop.Order'], default: null },
      ],
    })
    const code = typescriptTypes('AVRO', schema)
    parses(code)
    assert.match(
      code,
      /\/\*\* An order\. \*\/\nexport interface Order \{\n {2}id: number\n {2}status: Status\n {2}lines: Array<Line>\n {2}note: null \| string\n {2}attrs: Record<string, number>\n {2}hash: Buffer\n {2}self: null \| Order\n\}/,
    )
    assert.match(code, /export type Status = "NEW" \| "PAID"/)
    assert.match(code, /export interface Line \{\n {2}sku: string\n\}/)
    assert.match(typescriptTypes('AVRO', '"string"'), /export type Value = string/)
  })

  it('JSON Schema: required and optional properties, nested objects, enums, arrays', () => {
    const schema = JSON.stringify({
      title: 'click',
      type: 'object',
      properties: {
        user: { type: 'string', description: 'Who clicked.' },
        count: { type: 'integer' },
        kind: { enum: ['a', 'b'] },
        where: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] },
        tags: { type: 'array', items: { type: 'string' } },
        'odd-name': { type: ['string', 'null'] },
      },
      required: ['user'],
    })
    const code = typescriptTypes('JSON', schema)
    parses(code)
    assert.match(
      code,
      /export interface Click \{\n {2}\/\*\* Who clicked\. \*\/\n {2}user: string\n {2}count\?: number\n {2}kind\?: "a" \| "b"\n {2}where\?: ClickWhere\n {2}tags\?: Array<string>\n {2}"odd-name"\?: string \| null\n\}/,
    )
    assert.match(code, /export interface ClickWhere \{\n {2}x: number\n\}/)
  })

  it('Protobuf: messages, nested messages, enums, repeated and map fields, 64-bit integers as strings', () => {
    const schema = `syntax = "proto3";
package shop;
enum Status { NEW = 0; PAID = 1; }
message Order {
  int64 id = 1;
  Status status = 2;
  message Line { string sku = 1; int32 qty = 2; }
  repeated Line lines = 3;
  map<string, double> attrs = 4;
  bytes hash = 5;
}`
    const code = typescriptTypes('PROTOBUF', schema)
    parses(code)
    assert.match(code, /export type Status = "NEW" \| "PAID"/)
    assert.match(
      code,
      /export interface Order \{\n {2}id: string\n {2}status: Status\n {2}lines: Array<Order_Line>\n {2}attrs: Record<string, number>\n {2}hash: Buffer\n\}/,
    )
    assert.match(code, /export interface Order_Line \{\n {2}sku: string\n {2}qty: number\n\}/)
  })
})
