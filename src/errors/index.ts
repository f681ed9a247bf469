export { type ErrorCode, type ErrorDomain, errorCodes } from './codes.ts'
export { isSluiceError, SluiceError, type SluiceErrorOptions } from './sluice-error.ts'
