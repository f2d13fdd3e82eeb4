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
import fastifyRateLimit from '@fastify/rate-limit'
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
import { ImageProcessor } from './features/files/images.ts'
import { deriveLinkKey, FileLinks } from './features/files/links.ts'
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
import { redactUrl, serializeError } from './lib/log-safety.ts'
import { loadOrCreateSecret } from './lib/secret.ts'
import authPlugin from './plugins/auth.ts'
import dbPlugin from './plugins/db.ts'
import errorsPlugin, { clientErrorHandler, frameworkErrors } from './plugins/errors.ts'
import multipartPlugin from './plugins/multipart.ts'
import swaggerPlugin from './plugins/swagger.ts'
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

export async function buildApp (config: Config): Promise<App> {
  const app = Fastify({
    logger: loggerOptions(config),
    requestTimeout: config.requestTimeoutMs,
    bodyLimit: 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true } },
    // Errors raised before routing (bad URL encoding, over-long path parameters, malformed HTTP) in the contract's shape too.
    frameworkErrors,
    clientErrorHandler
  }).withTypeProvider<TypeBoxTypeProvider>()

  const jwtSecret = config.jwtSecret ?? loadOrCreateSecret(config.dataDir, (message) => app.log.warn(message))
  app.decorate('config', config)

  for (const schema of [ErrorResponseSchema, ...MODEL_SCHEMAS, ...EVENT_SCHEMAS]) app.addSchema(schema)

  await app.register(errorsPlugin)
  await app.register(fastifyHelmet)
  await app.register(fastifyCors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    // The plugin's default allows only GET, HEAD and POST: browsers could not PATCH or DELETE.
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: ['Retry-After', 'Content-Disposition', 'ETag', 'Content-Range', 'Accept-Ranges'],
    // A malformed preflight would get a text/plain 400, outside the contract's error shape.
    strictPreflight: false
  })
  await app.register(fastifyRateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: 'RATE_LIMITED',
      error: 'Too Many Requests',
      message: `Too many attempts: retry in ${Math.ceil(context.ttl / 1000)} s`
    })
  })
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
  const storage = new LocalFileStorage(join(config.dataDir, 'files'))
  const files = new FilesService(db, storage, new ImageProcessor(storage, join(config.dataDir, 'tmp', 'images')), config.maxUploadBytes, log)
  const links = new FileLinks(deriveLinkKey(jwtSecret), config.fileUrlTtlSeconds)
  const passwords = await createPasswordHasher(config.argon2)
  const users = new UsersService({ db, passwords, outbox, presence, sessions, files })
  const contacts = new ContactsService(db, outbox, presence, users)
  const writer = new MessageWriter(db, outbox, users, contacts, files)
  const messages = new MessagesService({ db, outbox, writer, users, contacts, files })
  const auth = new AuthService(users, sessions, app.tokens)
  const events = new EventsService({ eventLog, hubs, presence, bus, settings: config, log, liveSessions: sessions.live, watchersAmong: contacts.watchersAmong, present: (data) => links.signJson(data) })
  app.decorate('services', { sessions, hubs, outbox, presence, events, files, users, contacts, messages, auth })

  await presence.start()
  events.start()
  // Streams never end by themselves: end them before the server waits for connections to drain.
  app.addHook('preClose', async () => { await events.stop() })

  // File links (FileRef.downloadUrl/thumbnailUrl, uploaded avatars) are signed as they leave, in every JSON
  // answer of every route; stream frames get the same step (EventsService's present).
  app.addHook('onSend', async (_request, reply, payload) => {
    if (typeof payload !== 'string' || !String(reply.getHeader('content-type')).startsWith('application/json')) return payload
    return links.signJson(payload)
  })

  await app.register(healthRoutes)
  await app.register(authRoutes, { prefix: '/auth', auth })
  await app.register(usersRoutes, { prefix: '/users', users })
  await app.register(contactsRoutes, { prefix: '/contacts', contacts })
  await app.register(eventsRoutes, { prefix: '/events', events })
  await app.register(messagesRoutes, { messages })
  await app.register(filesRoutes, { files, links })
  return app
}
