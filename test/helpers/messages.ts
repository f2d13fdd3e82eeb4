// Shorthands for tests of messages: send, history, conversation list and event streams through the public API.
import type { Test } from 'tap'
import { apiClient, type Schemas, type TestUser } from './client.ts'
import { connectSse, type ConnectOptions, type SseConnection } from './sse.ts'

export type Message = Schemas['Message']

export async function sendText (from: TestUser, to: TestUser, content: string, id?: string): Promise<Message> {
  const { data, response } = await from.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: to.id } }, body: { content, ...(id === undefined ? {} : { id }) } })
  if (data === undefined) throw new Error(`send failed: ${response.status}`)
  return data
}

export async function history (user: TestUser, peer: TestUser): Promise<Message[]> {
  const { data, response } = await user.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: peer.id }, query: { limit: 200 } } })
  if (data === undefined) throw new Error(`history failed: ${response.status}`)
  return data.messages
}

export async function conversationWith (user: TestUser, peer: TestUser): Promise<Schemas['Conversation'] | undefined> {
  const { data } = await user.api.GET('/conversations')
  return data!.conversations.find((c) => c.peer.id === peer.id)
}

/** An open stream of the user (on `baseUrl`), past its `ready`, closed when the test ends. */
export async function openStream (t: Test, baseUrl: string, user: TestUser, options: Omit<ConnectOptions, 'token'> = {}): Promise<SseConnection> {
  const connection = await connectSse(baseUrl, { token: user.token, ...options })
  t.teardown(() => connection.close())
  t.equal(connection.status, 200, 'stream opened')
  await connection.waitForEvent('ready', 30_000)
  return connection
}

/** The data of every frame of this type so far. */
export function dataOf (connection: SseConnection, event: string): any[] {
  return connection.frames.filter((frame) => frame.event === event).map((frame) => JSON.parse(frame.data))
}

/** The user as seen through another instance (same token, other base URL). */
export function via (baseUrl: string, user: TestUser): TestUser {
  return { ...user, api: apiClient(baseUrl, user.token) }
}

/**
 * Every durable event of the user from the start of their log: opens a stream with Last-Event-ID 0, waits until
 * it has reached the user's newest event (sent by `marker`, which must cause one durable event), and closes it.
 */
export async function replayAll (t: Test, baseUrl: string, user: TestUser, marker: () => Promise<unknown>): Promise<Array<{ id: number, event: string, data: any, raw: string }>> {
  const connection = await openStream(t, baseUrl, user, { lastEventId: '0' })
  const readyData = JSON.parse(connection.frames.find((f) => f.event === 'ready')!.data) as { lastEventId: string }
  const before = Number(readyData.lastEventId)
  await marker()
  await connection.waitFor((frames) => frames.some((f) => f.id !== undefined && Number(f.id) > before), 30_000, 'the marker event')
  connection.close()
  return connection.frames.filter((f) => f.id !== undefined).map((f) => ({ id: Number(f.id), event: f.event, data: JSON.parse(f.data), raw: f.data }))
}
