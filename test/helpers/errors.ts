// Assertions on the contract's error shape: for a typed client's result, and for a raw fetch answer.
import type tap from 'tap'
import { ERROR_CODES } from '../../src/errors.ts'

/** Checks the contract's error shape and code of a failed typed-client call. */
export function isError (t: Pick<typeof tap, 'equal' | 'match'>, result: { response: Response, error?: unknown }, status: number, code: string) {
  t.equal(result.response.status, status, `status ${status}`)
  t.match(result.error, { statusCode: status, code, error: String, message: String }, `error ${code}`)
}

const DECLARED_CODE = new RegExp(`^(${ERROR_CODES.join('|')})$`)

/** The contract's error body for a status: a declared code, and text error and message. */
export const errorShape = (status: number) => ({ statusCode: status, code: DECLARED_CODE, error: String, message: String })

export interface RawAnswer {
  status: number
  headers: Headers
  body: any
}

/** The contract's error shape on a raw fetch answer, with the expected status and code: JSON, exactly these four keys. */
export function isRawError (t: Pick<typeof tap, 'equal' | 'match' | 'same'>, answer: RawAnswer, status: number, code: string | RegExp, message?: RegExp) {
  t.equal(answer.status, status, `status ${status}`)
  t.match(answer.headers.get('content-type'), /^application\/json/)
  t.match(answer.body, { ...errorShape(status), message: message ?? String })
  t.match(answer.body, { code })
  t.same(Object.keys(answer.body ?? {}).sort(), ['code', 'error', 'message', 'statusCode'], 'exactly the error shape')
}
