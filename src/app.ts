// The composition root: buildApp(config) assembles the server from its plugins and features.
import { readFileSync } from 'node:fs'
import fastifyCors from '@fastify/cors'
import fastifyHelmet from '@fastify/helmet'
import fastifyMultipart from '@fastify/multipart'
import fastifyRateLimit from '@fastify/rate-limit'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import Fastify, { type FastifyServerOptions } from 'fastify'
import type { Config } from './config.ts'
import { EventsService } from './features/events/service.ts'
import { EVENT_SCHEMAS } from './features/events/schemas.ts'
import authRoutes from './features/auth/routes.ts'
import contactsRoutes from './features/contacts/routes.ts'
import eventsRoutes from './features/events/routes.ts'
import filesRoutes from './features/files/routes.ts'
import healthRoutes from './features/health/routes.ts'
import messagesRoutes from './features/messages/routes.ts'
import usersRoutes from './features/users/routes.ts'
import { createPasswordHasher, type PasswordHasher } from './lib/passwords.ts'
import { redactUrl, serializeError } from './lib/log-safety.ts'
import { loadOrCreateSecret } from './lib/secret.ts'
import authPlugin from './plugins/auth.ts'
import dbPlugin from './plugins/db.ts'
import errorsPlugin, { clientErrorHandler, frameworkErrors } from './plugins/errors.ts'
import swaggerPlugin from './plugins/swagger.ts'
import { ErrorResponseSchema } from './schemas/common.ts'
import { MODEL_SCHEMAS } from './schemas/models.ts'
import type { App } from './types.ts'

declare module 'fastify' {
  interface FastifyInstance {
    config: Config
    passwords: PasswordHasher
    events: EventsService
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
  app.decorate('passwords', await createPasswordHasher(config.argon2))

  for (const schema of [ErrorResponseSchema, ...MODEL_SCHEMAS, ...EVENT_SCHEMAS]) app.addSchema(schema)

  await app.register(errorsPlugin)
  await app.register(fastifyHelmet)
  await app.register(fastifyCors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    // The plugin's default allows only GET, HEAD and POST: browsers could not PATCH or DELETE.
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: ['Retry-After', 'Content-Disposition', 'ETag'],
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
  // Uploads are read as streams; every limit explicit (the multipart parser ignores bodyLimit).
  await app.register(fastifyMultipart, {
    limits: { fileSize: config.maxUploadBytes, files: 1, parts: 3, fields: 3, fieldNameSize: 100, fieldSize: 1024, headerPairs: 20 }
  })
  await app.register(dbPlugin, { databaseUrl: config.databaseUrl, dataDir: config.dataDir })
  await app.register(authPlugin, { secret: jwtSecret })

  const events = new EventsService(app.db, app.bus, config, app.log, app.tokens.liveSessions)
  await events.start()
  app.decorate('events', events)
  // Streams never end by themselves: end them before the server waits for connections to drain.
  app.addHook('preClose', async () => { await events.stop() })

  await app.register(healthRoutes)
  await app.register(authRoutes, { prefix: '/auth' })
  await app.register(usersRoutes, { prefix: '/users' })
  await app.register(contactsRoutes, { prefix: '/contacts' })
  await app.register(eventsRoutes, { prefix: '/events' })
  await app.register(messagesRoutes)
  await app.register(filesRoutes)
  return app
}
