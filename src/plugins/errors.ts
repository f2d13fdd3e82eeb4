// One error handler for the whole API: declared errors pass through in the contract's shape, framework
// errors (validation, body limits, media types, rate limits) get their stable code, a database that cannot be
// reached is a 503 with Retry-After, anything else is a 500 that is logged and masked. Also answers unknown routes, and rejects NUL characters in any input.
import { STATUS_CODES } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { isDatabaseUnavailable, missingReferencedRow } from '../db/errors.ts'
import { AppError, type ErrorCode, statusOf } from '../errors.ts'
import { ERROR_MESSAGE_MAX, LOWERCASE_KEYWORD, unstorable } from '../schemas/common.ts'

interface ValidationIssue {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
  parentSchema?: Record<string, unknown>
}

const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_REQ_FILE_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_PARTS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FILES_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_FIELDS_LIMIT: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON'
}

const STATUS_FALLBACK: Record<number, ErrorCode> = {
  400: 'VALIDATION_ERROR',
  401: 'AUTH_REQUIRED',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  416: 'RANGE_NOT_SATISFIABLE',
  429: 'RATE_LIMITED'
}

function validationMessage (issues: ValidationIssue[], context: string | undefined): string {
  const issue = issues[0]!
  const path = `${context ?? 'body'}${issue.instancePath}`
  if (issue.keyword === 'additionalProperties') return `${path}/${String(issue.params.additionalProperty)} is not allowed (unknown property)`
  if (issue.keyword === 'required') return `${path}/${String(issue.params.missingProperty)} is required`
  if (issue.parentSchema?.[LOWERCASE_KEYWORD] === true && issue.keyword !== 'type') {
    return `${path} must be a UUID in canonical form (8-4-4-4-12 hex digits, nothing before or after)`
  }
  return `${path} ${issue.message ?? 'is invalid'}`
}

/** Seconds a client should wait before retrying while the database cannot be reached. */
export const DATABASE_RETRY_AFTER_SECONDS = 1

/** The message cut to ERROR_MESSAGE_MAX characters (code points), ending in … when cut. */
function bounded (message: string): string {
  if (message.length <= ERROR_MESSAGE_MAX) return message
  const characters = [...message]
  return characters.length <= ERROR_MESSAGE_MAX ? message : `${characters.slice(0, ERROR_MESSAGE_MAX - 1).join('')}…`
}

export function sendError (reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  const statusCode = statusOf(code)
  if (code === 'DATABASE_UNAVAILABLE') reply.header('retry-after', String(DATABASE_RETRY_AFTER_SECONDS))
  return reply.code(statusCode).type('application/json; charset=utf-8')
    .send({ statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message: bounded(message) })
}

/** Fastify's frameworkErrors option: errors found while routing, before any hook runs. */
export function frameworkErrors (err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_BAD_URL') {
    sendError(reply, 'VALIDATION_ERROR', 'The URL is not validly percent-encoded')
  } else if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    sendError(reply, 'VALIDATION_ERROR', 'A path parameter is too long')
  } else {
    request.log.error({ err }, 'routing error')
    sendError(reply, 'INTERNAL_ERROR', 'Internal server error')
  }
}

/** Fastify's clientErrorHandler option: HTTP the parser rejects (no request object exists yet). */
export function clientErrorHandler (err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [code, message]: [ErrorCode, string] = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    ? ['REQUEST_TIMEOUT', 'The request took too long to arrive']
    : err.code === 'HPE_HEADER_OVERFLOW'
      ? ['HEADERS_TOO_LARGE', 'The request headers are too large']
      : ['VALIDATION_ERROR', 'Malformed HTTP request']
  const statusCode = statusOf(code)
  const body = JSON.stringify({ statusCode, code, error: STATUS_CODES[statusCode], message })
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${statusCode} ${STATUS_CODES[statusCode]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`)
  }
  socket.destroy(err)
}

/** What a write that named a row deleted meanwhile answers (a user who deleted their account while it ran, say). */
const VANISHED: Record<string, ErrorCode> = { users: 'USER_NOT_FOUND', messages: 'MESSAGE_NOT_FOUND', files: 'FILE_NOT_FOUND' }

function toAppError (err: FastifyError & { validation?: ValidationIssue[], validationContext?: string }): AppError | undefined {
  if (err instanceof AppError) return err
  const vanished = VANISHED[missingReferencedRow(err) ?? '']
  if (vanished !== undefined) return new AppError(vanished)
  if (err.validation) return new AppError('VALIDATION_ERROR', validationMessage(err.validation, err.validationContext))
  const mapped = FRAMEWORK_CODES[err.code]
  if (mapped) return new AppError(mapped, err.message)
  const status = err.statusCode ?? 500
  if (status >= 400 && status < 500) return new AppError(STATUS_FALLBACK[status] ?? 'VALIDATION_ERROR', err.message)
  return undefined
}

/**
 * Finds a string in parsed input that PostgreSQL text cannot store as sent (a NUL character, an unpaired
 * surrogate) and says why. Iterative: a deeply nested body must not overflow the stack.
 */
function findUnstorable (value: unknown, path: string): string | undefined {
  const pending: Array<[unknown, string]> = [[value, path]]
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [current, at] = next
    if (typeof current === 'string') {
      const reason = unstorable(current)
      if (reason !== undefined) return `${at} ${reason}`
    } else if (current !== null && typeof current === 'object') {
      for (const [key, inner] of Object.entries(current)) {
        if (key.includes('\u0000')) return `${at}/${key.replaceAll('\u0000', '\\u0000')} must not contain a NUL character`
        pending.push([inner, `${at}/${key}`])
      }
    }
  }
  return undefined
}

async function errorsPlugin (app: FastifyInstance) {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const appError = toAppError(err)
    if (appError === undefined && isDatabaseUnavailable(err)) {
      // Not a bug: the database is down or restarting, and the client should retry (on any instance).
      request.log.warn({ err }, 'database unavailable')
      return sendError(reply, 'DATABASE_UNAVAILABLE', 'The database cannot be reached: retry shortly')
    }
    if (appError === undefined) {
      request.log.error({ err }, 'unhandled error')
      return sendError(reply, 'INTERNAL_ERROR', 'Internal server error')
    }
    // A refusal while the instance stops is expected (the client retries elsewhere): its request line says 503.
    if (appError.statusCode >= 500 && appError.code !== 'SERVICE_UNAVAILABLE') request.log.error({ err }, appError.message)
    return sendError(reply, appError.code, appError.message)
  })

  app.setNotFoundHandler((request, reply) => {
    sendError(reply, 'ROUTE_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`)
  })

  // Fastify also parses text/plain, and @fastify/multipart multipart bodies, for every route: a route whose
  // body is JSON takes nothing else (415 rather than a confusing validation error).
  // (Callbacks, not async functions: these run on every request and wait for nothing.)
  app.addHook('preParsing', (request: FastifyRequest, _reply, payload, done) => {
    const type = request.headers['content-type']
    if (type === undefined || request.routeOptions.schema?.body === undefined) return done(null, payload)
    if (type.split(';')[0]!.trim().toLowerCase() !== 'application/json') return done(new AppError('UNSUPPORTED_MEDIA_TYPE', 'This endpoint takes an application/json body'))
    done(null, payload)
  })

  app.addHook('preValidation', (request: FastifyRequest, _reply, done) => {
    const found = findUnstorable(request.query, 'querystring') ?? findUnstorable(request.params, 'params') ?? findUnstorable(request.body, 'body')
    done(found ? new AppError('VALIDATION_ERROR', found) : undefined)
  })
}

export default fp(errorsPlugin, { name: 'errors' })
