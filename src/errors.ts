// Every error the API answers with, declared once: a stable code, its HTTP status and a default message.

const ERRORS = {
  VALIDATION_ERROR: [400, 'Invalid input'],
  INVALID_JSON: [400, 'The request body is not valid JSON'],
  CANNOT_ADD_SELF: [400, 'You cannot add yourself as a contact'],
  CANNOT_MESSAGE_SELF: [400, 'You cannot send a message to yourself'],
  CANNOT_BLOCK_SELF: [400, 'You cannot block yourself'],
  NOT_EDITABLE: [400, 'Only text messages can be edited'],
  AUTH_REQUIRED: [401, 'Authentication required: send Authorization: Bearer <token>'],
  TOKEN_INVALID: [401, 'The token is invalid, expired or revoked'],
  INVALID_CREDENTIALS: [401, 'Wrong username or password'],
  LINK_INVALID: [401, 'The link is expired or altered: ask for the file again to get a fresh one'],
  WRONG_PASSWORD: [403, 'The current password is missing or wrong'],
  NOT_A_CONTACT: [403, 'You can only message users who have you, or whom you have, as a contact'],
  NOT_MESSAGE_RECEIVER: [403, 'Only the receiver of a message can mark it read'],
  BLOCKED: [403, 'One of you has blocked the other'],
  NOT_MESSAGE_SENDER: [403, 'Only the sender of a message can do that'],
  NOT_FOUND: [404, 'Not found'],
  ROUTE_NOT_FOUND: [404, 'No such route'],
  USER_NOT_FOUND: [404, 'No such user'],
  CONTACT_NOT_FOUND: [404, 'No such contact'],
  MESSAGE_NOT_FOUND: [404, 'No such message'],
  FILE_NOT_FOUND: [404, 'No such file'],
  SESSION_NOT_FOUND: [404, 'No such session of yours'],
  USERNAME_TAKEN: [409, 'That username is taken'],
  EMAIL_TAKEN: [409, 'That email is already registered'],
  CONTACT_EXISTS: [409, 'That user is already a contact'],
  MESSAGE_ID_CONFLICT: [409, 'A different message already has that id'],
  TOO_MANY_REACTIONS: [409, 'You already added 20 different reactions to this message'],
  REQUEST_TIMEOUT: [408, 'The request took too long to arrive'],
  RANGE_NOT_SATISFIABLE: [416, 'The requested range is outside the file'],
  PAYLOAD_TOO_LARGE: [413, 'The request body is too large'],
  QUOTA_EXCEEDED: [413, 'This upload would take your stored bytes past STORAGE_QUOTA_BYTES'],
  IMAGE_TOO_LARGE: [413, 'The image has more than 50 megapixels'],
  UNSUPPORTED_MEDIA_TYPE: [415, 'Unsupported Content-Type'],
  UNSUPPORTED_IMAGE: [415, 'The image must be PNG, JPEG, GIF or WebP'],
  RATE_LIMITED: [429, 'Too many requests, retry later'],
  TOO_MANY_STREAMS: [429, 'You hold as many event streams as allowed (MAX_STREAMS_PER_USER): close one first'],
  HEADERS_TOO_LARGE: [431, 'The request headers are too large'],
  INTERNAL_ERROR: [500, 'Internal server error'],
  SERVICE_UNAVAILABLE: [503, 'Service unavailable'],
  DATABASE_UNAVAILABLE: [503, 'The database cannot be reached: retry shortly']
} as const satisfies Record<string, readonly [number, string]>

export type ErrorCode = keyof typeof ERRORS

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[]

export function statusOf (code: ErrorCode): number {
  return ERRORS[code][0]
}

/** A declared API error: services throw it, the error handler answers it in the contract's shape. */
export class AppError extends Error {
  readonly statusCode: number
  constructor (readonly code: ErrorCode, message?: string) {
    super(message ?? ERRORS[code][1])
    this.statusCode = ERRORS[code][0]
  }
}

export function fail (code: ErrorCode, message?: string): never {
  throw new AppError(code, message)
}
