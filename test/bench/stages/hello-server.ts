// H's server under test: Fastify's hello world, a JSON route with a response schema, nothing else.
import Fastify from 'fastify'

const app = Fastify({ logger: false })
app.get('/', {
  schema: { response: { 200: { type: 'object', properties: { hello: { type: 'string' } } } } }
}, async () => ({ hello: 'world' }))

process.on('SIGTERM', () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
if (typeof address !== 'object' || address === null) throw new Error('no address')
process.stdout.write(`listening on http://127.0.0.1:${address.port}\n`)
