// The composition root: buildApp(config) assembles the server from its plugins and features, and builds every
// service exactly once, handing each its dependencies.
//
// Features depend on each other in one direction only (enforced by the linter, eslint.config.js):
//   auth -> users, sessions;  accounts -> users, sessions, files
//   messages -> contacts -> users -> files, sessions, blocks
//   limits -> messages, files (their limits, read off the schemas that enforce them)
//   every feature -> events (the outbox and presence); events -> nothing (what it needs from contacts and
//   sessions is passed in as functions)
// Within a feature: routes -> service -> repository -> db schema. Plugins never import features.
import { readFileSync } from 'node:fs'
import fastifyCors from '@fastify/cors'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyServerOptions } from 'fastify'
import type { Config } from './config.ts'
import { AppError } from './errors.ts'
import { join } from 'node:path'
import accountsRoutes from './features/accounts/routes.ts'
import { AccountsService } from './features/accounts/service.ts'
import authRoutes from './features/auth/routes.ts'
import { AuthService } from './features/auth/service.ts'
import blocksRoutes from './features/blocks/routes.ts'
import { BlocksService } from './features/blocks/service.ts'
import contactsRoutes from './features/contacts/routes.ts'
import { ContactsService } from './features/contacts/service.ts'
import { Hubs } from './features/events/hub.ts'
import { EventLog } from './features/events/log.ts'
import { Outbox } from './features/events/outbox.ts'
import { Presence } from './features/events/presence.ts'
import eventsRoutes from './features/events/routes.ts'
import { TypingRelay } from './features/events/typing.ts'
import { EVENT_SCHEMAS } from './features/events/schemas.ts'
import { EventsService } from './features/events/service.ts'
import filesRoutes from './features/files/routes.ts'
import { ImageProcessor } from './features/files/images.ts'
import { deriveLinkKey, FileLinks } from './features/files/links.ts'
import { FilesService } from './features/files/service.ts'
import { LocalFileStorage } from './features/files/storage.ts'
import healthRoutes from './features/health/routes.ts'
import limitsRoutes from './features/limits/routes.ts'
import { limitsOf } from './features/limits/values.ts'
import { MessageChanges } from './features/messages/changes.ts'
import messageChangesRoutes from './features/messages/changes-routes.ts'
import messagesRoutes from './features/messages/routes.ts'
import { MessageSearch } from './features/messages/search.ts'
import { MessagesService } from './features/messages/service.ts'
import { MessageWriter } from './features/messages/writer.ts'
import { SessionsService } from './features/sessions/service.ts'
import usersRoutes from './features/users/routes.ts'
import { UsersService } from './features/users/service.ts'
import { createPasswordHasher } from './lib/passwords.ts'
import { OneLineLogController } from './lib/request-log.ts'
import { redactUrl, serializeError } from './lib/log-safety.ts'
import { loadOrCreateSecret } from './lib/secret.ts'
import authPlugin from './plugins/auth.ts'
import dbPlugin from './plugins/db.ts'
import errorsPlugin, { clientErrorHandler, frameworkErrors } from './plugins/errors.ts'
import multipartPlugin from './plugins/multipart.ts'
import jsonPlugin from './plugins/json.ts'
import limitsPlugin from './plugins/limits.ts'
import { SharedRateStore } from './plugins/rate-store.ts'
import securityHeadersPlugin from './plugins/security-headers.ts'
import swaggerPlugin from './plugins/swagger.ts'
import { buildValidator } from './plugins/validation.ts'
import webPlugin from './plugins/web.ts'
import { ErrorResponseSchema } from './schemas/common.ts'
import { MODEL_SCHEMAS } from './schemas/models.ts'
import type { App } from './types.ts'

/** Every service of the app, each built once by buildApp. */
export interface Services {
  sessions: SessionsService
  hubs: Hubs
  outbox: Outbox
  presence: Presence
  events: EventsService
  files: FilesService
  blocks: BlocksService
  users: UsersService
  contacts: ContactsService
  messages: MessagesService
  auth: AuthService
  accounts: AccountsService
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    services: Services
  }
}

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

function loggerOptions (config: Config): FastifyServerOptions['logger'] {
  return {
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.authorization', '*.cookie', '*.password', '*.currentPassword', '*.token'], censor: '[REDACTED]' },
    serializers: {
      req: (request) => ({
        method: request.method,
        url: redactUrl(request.url),
        remoteAddress: request.ip
      }),
      err: serializeError
    },
    ...(config.logStream === undefined ? {} : { stream: config.logStream })
  }
}

/** A hop count as Fastify's typings take it: trust the nearest `hops` proxies (what a number means to proxy-addr). */
function trustHops (hops: number) {
  return (_address: string, hop: number) => hop < hops
}

export async function buildApp (config: Config): Promise<App> {
  const app = Fastify({
    logger: loggerOptions(config),
    logController: new OneLineLogController(),
    // An idle timeout, not a total one: an upload over a slow link may take minutes while bytes keep arriving.
    // Request headers keep Node's own bound (headersTimeout, 60 s).
    requestTimeout: 0,
    connectionTimeout: config.requestIdleTimeoutMs,
    // Opening the database runs its migrations: on a slow disk or a large database that takes more than the default 10 s.
    pluginTimeout: 120_000,
    bodyLimit: 1024 * 1024,
    // Behind a proxy, the client address (request.ip, which rate limits count by) comes from X-Forwarded-For only
    // when TRUST_PROXY says which hops to trust.
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    // JSON bodies are validated as sent (no coercion); path, query and headers are text and may be converted.
    schemaController: { compilersFactory: { buildValidator } },
    // Errors raised before routing (bad URL encoding, over-long path parameters, malformed HTTP) in the contract's shape too.
    frameworkErrors,
    // Fastify's own answer to a request arriving while the server stops has no `code`: ours (below) has.
    return503OnClosing: false,
    clientErrorHandler
  }).withTypeProvider<TypeBoxTypeProvider>()

  const jwtSecret = config.jwtSecret ?? loadOrCreateSecret(config.dataDir, (message) => app.log.warn(message))
  app.decorate('config', config)

  for (const schema of [ErrorResponseSchema, ...MODEL_SCHEMAS, ...EVENT_SCHEMAS]) app.addSchema(schema)

  await app.register(errorsPlugin)
  await app.register(jsonPlugin)
  await app.register(securityHeadersPlugin, { crossOriginClients: config.corsOrigins.length > 0 })
  await app.register(fastifyCors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    // The plugin's default allows only GET, HEAD and POST: browsers could not PATCH or DELETE.
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: ['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Content-Disposition', 'ETag', 'Content-Range', 'Accept-Ranges'],
    // A malformed preflight would get a text/plain 400, outside the contract's error shape.
    strictPreflight: false
  })
  // A request that reaches a stopping server (pipelined or on a busy keep-alive connection) is told to go elsewhere.
  let stopping = false
  app.addHook('preClose', async () => {
    stopping = true
    // Node closes idle connections once, when the stop begins; one whose request completes later would stay
    // open for the whole keep-alive timeout (72 s). Now it closes a moment after its answer.
    app.server.keepAliveTimeout = 1
  })
  // Hooks on every request take a callback where they wait for nothing: an async one costs a promise and a turn.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!stopping) return done()
    reply.header('retry-after', 1).header('connection', 'close')
    done(new AppError('SERVICE_UNAVAILABLE', 'The server is stopping: retry (another instance, or this one once restarted, answers)'))
  })
  await app.register(dbPlugin, { databaseUrl: config.databaseUrl, dataDir: config.dataDir, busUrl: config.busUrl, faultKillAfterCommit: config.faultKillAfterCommit })
  const { db, bus, log } = app
  // On PostgreSQL several instances may serve one service: their budgets are counted together.
  const rateStore = app.database.kind === 'postgres' ? new SharedRateStore(db, log) : undefined
  await app.register(limitsPlugin, { perMinute: config.rateLimitPerMinute, sendsPerMinute: config.rateLimitSendsPerMinute, store: rateStore })
  await app.register(swaggerPlugin, { version })
  await app.register(multipartPlugin, { maxUploadBytes: config.maxUploadBytes })

  // Services, each built once, dependencies first.
  const sessions = new SessionsService(db, bus, { ttlSeconds: config.tokenTtlSeconds, maxAgeSeconds: config.sessionMaxAgeSeconds }, log)
  // Requests go through `used`, which also keeps lastUsedAt (at most one write a minute per session).
  await app.register(authPlugin, { secret: jwtSecret, liveSessions: sessions.used })
  const eventLog = new EventLog(db)
  const hubs = new Hubs(eventLog, log, bus)
  const outbox = new Outbox(db, bus, hubs)
  const presence = new Presence(db, bus, log, config.presenceRenewMs)
  const storage = new LocalFileStorage(join(config.dataDir, 'files'))
  const images = new ImageProcessor(storage, join(config.dataDir, 'tmp', 'images'))
  const files = new FilesService(db, storage, images, { maxUploadBytes: config.maxUploadBytes, quotaBytes: config.storageQuotaBytes }, log)
  await files.sweepStaged()
  const links = new FileLinks(deriveLinkKey(jwtSecret), config.fileUrlTtlSeconds)
  const passwords = await createPasswordHasher(config.argon2)
  const blocks = new BlocksService({ db, outbox, presence, bus, log })
  const users = new UsersService({ db, passwords, outbox, presence, sessions, files, blocks, log })
  const contacts = new ContactsService(db, outbox, presence, users)
  bus.setWatchersOf(contacts.watchersOf)
  const writer = new MessageWriter(db, outbox, users, contacts, files)
  const typingRelay = new TypingRelay(bus, log)
  const messages = new MessagesService({ db, outbox, writer, users, contacts, files, typingRelay })
  const messageChanges = new MessageChanges({ outbox, files, checkMayReact: blocks.refuseBlocked })
  const messageSearch = new MessageSearch(db, users, files)
  const auth = new AuthService(users, sessions, app.tokens)
  const accounts = new AccountsService(outbox, users, sessions, files)
  const events = new EventsService({ eventLog, hubs, presence, bus, settings: config, log, liveSessions: sessions.live, watchersAmong: contacts.watchersAmong, present: (data) => links.signJson(data) })
  app.decorate('services', { sessions, hubs, outbox, presence, events, files, blocks, users, contacts, messages, auth, accounts })

  await presence.start()
  events.start()
  sessions.startPruning(config.pruneIntervalMs)
  // Streams never end by themselves: end them before the server waits for connections to drain.
  app.addHook('preClose', async () => {
    typingRelay.stop()
    await Promise.all([events.stop(), sessions.stopPruning(3000)])
  })

  // File links (FileRef.downloadUrl/thumbnailUrl, uploaded avatars) are signed as they leave, in every JSON
  // answer of every route; stream frames get the same step (EventsService's present).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (typeof payload !== 'string' || !String(reply.getHeader('content-type')).startsWith('application/json')) return done(null, payload)
    done(null, links.signJson(payload))
  })

  await app.register(healthRoutes, { bus })
  await app.register(limitsRoutes, { limits: limitsOf(config) })
  await app.register(authRoutes, { prefix: '/auth', auth, sessions })
  await app.register(usersRoutes, { prefix: '/users', users })
  await app.register(accountsRoutes, { prefix: '/users', accounts })
  await app.register(blocksRoutes, { prefix: '/blocks', blocks })
  await app.register(contactsRoutes, { prefix: '/contacts', contacts })
  await app.register(eventsRoutes, { prefix: '/events', events })
  await app.register(messagesRoutes, { messages })
  await app.register(messageChangesRoutes, { messages, changes: messageChanges, search: messageSearch })
  await app.register(filesRoutes, { files, links })
  await app.register(webPlugin, {})
  return app
}
