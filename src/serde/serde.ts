// A serde turns a value into the bytes a log stores and back. Keys and values each have one.

export interface Serde<T> {
  /** Shown in describe() and in error messages. */
  readonly name: string
  serialize(value: T): Buffer | null
  /** Throws a SluiceError with code SLUICE_ERR_SERDE when the bytes are not a valid T. */
  deserialize(bytes: Buffer | null): T
}
