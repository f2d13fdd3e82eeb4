// Per-minute budgets (rate limits): named, keyed by what they protect (a client address, a username, a user),
// answered with RateLimit-Limit/Remaining/Reset and, past the budget, 429 RATE_LIMITED with Retry-After.
import fastifyRateLimit, { type FastifyRateLimitStoreCtor } from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../errors.ts'
import { BUDGET_WINDOW_MS, type SharedRateStore } from './rate-store.ts'

export type BudgetHook = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

export interface FailureBudget {
  check: BudgetHook
  charge: (request: FastifyRequest) => Promise<void>
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Counts against the per-user budget of sends (messages, uploads, reactions, typing) as well. */
    countsAsSend?: boolean
  }
  interface FastifyInstance {
    /**
     * A hook that counts the request against `name`'s budget for the key `key` derives (nothing is counted when
     * it answers undefined). Several budgets may apply to one request: the headers describe the tightest.
     */
    budget: (name: string, max: number, key: (request: FastifyRequest) => string | undefined) => BudgetHook
    /**
     * A budget of failures (wrong password guesses): `check` refuses with 429 once `max` were charged in the
     * window, `charge` counts one. Only what fails is counted.
     */
    failureBudget: (name: string, max: number, key: (request: FastifyRequest) => string) => FailureBudget
  }
}

const tightest = Symbol('tightest remaining budget')

function tooMany (reply: FastifyReply, retryAfter: number): never {
  reply.header('retry-after', retryAfter)
  throw new AppError('RATE_LIMITED', `Too many requests: retry in ${retryAfter} s`)
}

export interface LimitsOptions {
  perMinute: number
  sendsPerMinute: number
  /** Where budgets are counted when several instances share them; each instance's memory without it. */
  store?: SharedRateStore
}

async function limitsPlugin (app: FastifyInstance, options: LimitsOptions) {
  const { store } = options
  // @fastify/rate-limit builds its store with `new`: a constructor that answers the one already built.
  const shared = store === undefined ? {} : { store: function SharedStore () { return store } as unknown as FastifyRateLimitStoreCtor }
  await app.register(fastifyRateLimit, { global: false, ...shared })
  if (store !== undefined) app.addHook('onClose', async () => { await store.close() })
  app.decorateRequest(tightest, null)

  app.decorate('budget', (name: string, max: number, key: (request: FastifyRequest) => string | undefined): BudgetHook => {
    const check = app.createRateLimit({ max, timeWindow: BUDGET_WINDOW_MS, keyGenerator: (request) => `${name}:${key(request) ?? ''}` })
    return async (request, reply) => {
      if (key(request) === undefined) return
      const result = await check(request)
      if (result.isAllowed) return
      const seen = (request as unknown as Record<symbol, number | null | undefined>)[tightest]
      if (seen === null || seen === undefined || result.remaining <= seen || result.isExceeded) {
        (request as unknown as Record<symbol, number>)[tightest] = result.remaining
        reply.header('ratelimit-limit', result.max)
          .header('ratelimit-remaining', result.remaining)
          .header('ratelimit-reset', result.ttlInSeconds)
      }
      if (result.isExceeded) tooMany(reply, result.ttlInSeconds)
    }
  })

  app.decorate('failureBudget', (name: string, max: number, key: (request: FastifyRequest) => string): FailureBudget => {
    const counter = app.createRateLimit({ max, timeWindow: BUDGET_WINDOW_MS, keyGenerator: (request) => `${name}:${key(request)}` })
    return {
      check: async (request, reply) => {
        const result = await counter(request, { increment: false })
        if (!result.isAllowed && result.remaining <= 0 && result.ttl > 0) tooMany(reply, result.ttlInSeconds)
      },
      charge: async (request) => { await counter(request) }
    }
  })

  // Every authenticated request counts against its user's budget, sends against a tighter one too. Counted
  // before validation: a malformed request costs the server as much as a valid one.
  const userOf = (request: FastifyRequest) => (request as { auth?: { userId: string } | null }).auth?.userId
  const perUser = app.budget('user', options.perMinute, userOf)
  const sends = app.budget('sends', options.sendsPerMinute, (request) => request.routeOptions.config.countsAsSend === true ? userOf(request) : undefined)
  app.addHook('preValidation', async (request, reply) => {
    await perUser(request, reply)
    await sends(request, reply)
  })
}

export default fp(limitsPlugin, { name: 'limits' })
