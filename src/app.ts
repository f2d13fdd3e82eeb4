// The composition root: buildApp(config) assembles the server from its plugins and features, and builds every
// service exactly once, handing each its dependencies.
//
// Features depend on each other in one direction only (enforced by the linter, eslint.config.js):
//   auth -> users, sessions
//   messages -> contacts -> users -> files, sessions
//   every feature -> events (the outbox and presence); events -> nothing (what it needs from contacts and
//   sessions is passed in as functions)
// Within a feature: routes -> service -> repository -> db schema. Plugins never import features.
import { readFileSync } from 'node:fs'
import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyServerOptions } from 'fastify'
import type { Config } from './config.ts'
import { join } from 'node:path'
import authRoutes from './features/auth/routes.ts'
import { AuthService } from './features/auth/service.ts'
import contactsRoutes from './features/contacts/routes.ts'
import { ContactsService } from './features/contacts/service.ts'
import { Hubs } from './features/events/hub.ts'
import { EventLog } from './features/events/log.ts'
import { Outbox } from './features/events/outbox.ts'
import { Presence } from './features/events/presence.ts'
import eventsRoutes from './features/events/routes.ts'
import { EVENT_SCHEMAS } from './features/events/schemas.ts'
import { EventsService } from './features/events/service.ts'
import filesRoutes from './features/files/routes.ts'
import { FilesService } from './features/files/service.ts'
import { LocalFileStorage } from './features/files/storage.ts'
import healthRoutes from './features/health/routes.ts'
import messagesRoutes from './features/messages/routes.ts'
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
import swaggerPlugin from './plugins/swagger.ts'
import { buildValidator } from './plugins/validation.ts'
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
  users: UsersService
  contacts: ContactsService
  messages: MessagesService
  auth: AuthService
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
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.currentPassword', '*.token'], censor: '[REDACTED]' },
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
    requestTimeout: config.requestTimeoutMs,
    bodyLimit: 1024 * 1024,
    // Behind a proxy, the client address (request.ip, which rate limits count by) comes from X-Forwarded-For only
    // when TRUST_PROXY says which hops to trust.
    trustProxy: typeof config.trustProxy === 'number' ? trustHops(config.trustProxy) : config.trustProxy,
    // JSON bodies are validated as sent (no coercion); path, query and headers are text and may be converted.
    schemaController: { compilersFactory: { buildValidator } },
    // Errors raised before routing (bad URL encoding, over-long path parameters, malformed HTTP) in the contract's shape too.
    frameworkErrors,
    clientErrorHandler
  }).withTypeProvider<TypeBoxTypeProvider>()

  const jwtSecret = config.jwtSecret ?? loadOrCreateSecret(config.dataDir, (message) => app.log.warn(message))
  app.decorate('config', config)

  for (const schema of [ErrorResponseSchema, ...MODEL_SCHEMAS, ...EVENT_SCHEMAS]) app.addSchema(schema)

  await app.register(errorsPlugin)
  await app.register(jsonPlugin)
  await app.register(fastifyHelmet)
  await app.register(fastifyCors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    // The plugin's default allows only GET, HEAD and POST: browsers could not PATCH or DELETE.
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: ['Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'Content-Disposition', 'ETag'],
    // A malformed preflight would get a text/plain 400, outside the contract's error shape.
    strictPreflight: false
  })
  await app.register(limitsPlugin)
  await app.register(swaggerPlugin, { version })
  await app.register(multipartPlugin, { maxUploadBytes: config.maxUploadBytes })
  await app.register(dbPlugin, { databaseUrl: config.databaseUrl, dataDir: config.dataDir })
  const { db, bus, log } = app

  // Services, each built once, dependencies first.
  const sessions = new SessionsService(db, bus, config.tokenTtlSeconds)
  await app.register(authPlugin, { secret: jwtSecret, liveSessions: sessions.live })
  const eventLog = new EventLog(db)
  const hubs = new Hubs(eventLog, log)
  const outbox = new Outbox(db, bus, hubs)
  const presence = new Presence(db, bus, log, config.presenceRenewMs)
  const files = new FilesService(db, new LocalFileStorage(join(config.dataDir, 'files')), config.maxUploadBytes, log)
  const passwords = await createPasswordHasher(config.argon2)
  const users = new UsersService({ db, passwords, outbox, presence, sessions, files })
  const contacts = new ContactsService(db, outbox, presence, users)
  const writer = new MessageWriter(db, outbox, users, contacts, files)
  const messages = new MessagesService({ db, outbox, writer, users, contacts, files })
  const auth = new AuthService(users, sessions, app.tokens)
  const events = new EventsService({ eventLog, hubs, presence, bus, settings: config, log, liveSessions: sessions.live, watchersAmong: contacts.watchersAmong })
  app.decorate('services', { sessions, hubs, outbox, presence, events, files, users, contacts, messages, auth })

  await presence.start()
  events.start()
  // Streams never end by themselves: end them before the server waits for connections to drain.
  app.addHook('preClose', async () => { await events.stop() })

  await app.register(healthRoutes)
  await app.register(authRoutes, { prefix: '/auth', auth })
  await app.register(usersRoutes, { prefix: '/users', users })
  await app.register(contactsRoutes, { prefix: '/contacts', contacts })
  await app.register(eventsRoutes, { prefix: '/events', events })
  await app.register(messagesRoutes, { messages })
  await app.register(filesRoutes, { files })
  return app
}
