// Names of the embedded log's own compacted topics: group offsets and transaction state live in the log itself.
export const OFFSETS_TOPIC = '__consumer_offsets'
export const TRANSACTIONS_TOPIC = '__transaction_state'
