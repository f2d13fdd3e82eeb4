// Conversations and messages: sending (text, files, images) under the messaging policy with idempotent ids,
// history pages, the conversation list, read receipts and clearing. Every change writes its events with it.
import { randomUUID } from 'node:crypto'
import type { Multipart } from '@fastify/multipart'
import type { FastifyInstance } from 'fastify'
import { AppError, fail } from '../../errors.ts'
import { Batcher } from '../../lib/batcher.ts'
import type { Conversation, Message } from '../../schemas/models.ts'
import { ContactsService } from '../contacts/service.ts'
import { FilesService, type ReceivedUpload } from '../files/service.ts'
import { UsersService } from '../users/service.ts'
import {
  clearConversation, findMessages, insertTextMessages, deleteClearedByBoth, findClearedSeq, findMessage, findSeqInPair, insertMessage, listConversations,
  listHistory, lockConversations, markRead, markReadUpTo, type MessageRow, setLastSeq, toMessage
} from './repository.ts'

export interface SendResult {
  message: Message
  /** False when this was a retry of a message already stored (nothing was stored or delivered again). */
  created: boolean
}

interface TextSend {
  senderId: string
  peerId: string
  id: string | undefined
  content: string
}

const sameText = (send: TextSend) => (row: MessageRow) =>
  row.senderId === send.senderId && row.receiverId === send.peerId && row.kind === 'text' && row.content === send.content

/** Rolls the send back when its id turns out to be taken (a concurrent send with the same id won). */
class IdTaken extends Error {}

export class MessagesService {
  private readonly contacts: ContactsService
  private readonly users: UsersService
  private readonly files: FilesService

  constructor (private readonly app: FastifyInstance) {
    this.contacts = new ContactsService(app)
    this.users = new UsersService(app)
    this.files = new FilesService(app)
  }

  /**
   * Text sends are group-committed: those that arrive while earlier batches are in flight share one policy
   * check, one transaction and one notification. A lone send runs at once.
   */
  async sendText (senderId: string, peerId: string, input: { id?: string, content: string }): Promise<SendResult> {
    if (peerId === senderId) fail('CANNOT_MESSAGE_SELF')
    return this.textSends.submit({ senderId, peerId, id: input.id?.toLowerCase(), content: input.content })
  }

  private readonly textSends = new Batcher<TextSend, SendResult>((sends) => this.sendTexts(sends), { maxBatch: 256, maxInFlight: 2 })

  private async sendTexts (sends: TextSend[]): Promise<Array<SendResult | Error>> {
    const results: Array<SendResult | Error | undefined> = new Array(sends.length)
    try {
      await this.app.events.transaction(async (tx, emit) => {
        // The checks run inside the transaction, pipelined on its connection: one round trip for all three.
        const [peers, allowed, existing] = await Promise.all([
          this.users.existing(sends.map((send) => send.peerId), tx),
          this.contacts.mayTalkMany(sends.map((send) => [send.senderId, send.peerId]), tx),
          findMessages(tx, sends.flatMap((send) => send.id === undefined ? [] : [send.id]))
        ])
        const stored = new Map(existing.map((row) => [row.id, row]))
        const fresh: Array<{ index: number, id: string }> = []
        const taken = new Set<string>()
        sends.forEach((send, index) => {
          if (!peers.has(send.peerId)) results[index] = new AppError('USER_NOT_FOUND')
          else if (!allowed[index]) results[index] = new AppError('NOT_A_CONTACT')
          else if (send.id !== undefined && stored.has(send.id)) results[index] = this.retriedOrError(stored.get(send.id)!, sameText(send))
          else if (send.id !== undefined && taken.has(send.id)) return // the same id twice in one batch: settled below
          else {
            const id = send.id ?? randomUUID()
            taken.add(id)
            fresh.push({ index, id })
          }
        })
        if (fresh.length === 0) return
        const inserted = await insertTextMessages(tx, fresh.map(({ index, id }) => ({ id, senderId: sends[index]!.senderId, receiverId: sends[index]!.peerId, content: sends[index]!.content })))
        const byId = new Map(inserted.map((row) => [row.id, row]))
        for (const { index, id } of fresh) {
          const row = byId.get(id)
          if (row === undefined) continue // taken meanwhile by a concurrent send: settled below
          const send = sends[index]!
          const message = toMessage({
            id, seq: row.seq, senderId: send.senderId, receiverId: send.peerId, kind: 'text', content: send.content, createdAt: row.createdAt,
            readAt: null, fileId: null, fileName: null, fileSize: null, fileMimeType: null, fileSha256: null
          })
          emit(send.senderId, 'message.created', message)
          emit(send.peerId, 'message.created', message)
          results[index] = { message, created: true }
        }
      })
    } catch (err) {
      // One bad send must not fail the others: retry them one by one.
      if (sends.length === 1) throw err
      return Promise.all(sends.map((send) => this.sendTexts([send]).then(([result]) => result!, (error: unknown) => error as Error)))
    }
    // Ids that turned out to be taken (by this batch or a concurrent one): a retry, or a conflict.
    const unsettled = sends.flatMap((_send, index) => results[index] === undefined ? [index] : [])
    if (unsettled.length > 0) {
      const rows = new Map((await findMessages(this.app.db, unsettled.map((index) => sends[index]!.id!))).map((row) => [row.id, row]))
      for (const index of unsettled) {
        const row = rows.get(sends[index]!.id!)
        results[index] = row === undefined ? new AppError('MESSAGE_ID_CONFLICT') : this.retriedOrError(row, sameText(sends[index]!))
      }
    }
    return results as Array<SendResult | Error>
  }

  private retriedOrError (existing: MessageRow, same: (row: MessageRow) => boolean): SendResult | Error {
    try {
      return this.retried(existing, same)
    } catch (err) {
      return err as Error
    }
  }

  /** Streams the upload to storage (after the policy check), then stores the message; no bytes remain on any failure. */
  async sendFile (senderId: string, peerId: string, kind: 'file' | 'image', parts: AsyncIterable<Multipart>): Promise<SendResult> {
    await this.checkMaySend(senderId, peerId)
    const upload = await this.files.receive(parts, kind)
    const same = (row: MessageRow) => row.senderId === senderId && row.receiverId === peerId && row.kind === kind &&
      row.fileName === upload.name && row.fileSize === upload.staged.size && row.fileSha256 === upload.staged.sha256
    return this.send(senderId, peerId, { id: upload.id, kind, content: null }, upload, same)
  }

  private async send (
    senderId: string,
    peerId: string,
    draft: { id: string | undefined, kind: 'text' | 'file' | 'image', content: string | null },
    upload: ReceivedUpload | undefined,
    same: (row: MessageRow) => boolean
  ): Promise<SendResult> {
    if (draft.id !== undefined) {
      const existing = await findMessage(this.app.db, draft.id)
      if (existing !== undefined) {
        await upload?.staged.discard()
        return this.retried(existing, same)
      }
    }
    const id = draft.id ?? randomUUID()
    try {
      const message = await this.app.events.transaction(async (tx, emit) => {
        await lockConversations(tx, senderId, peerId)
        const file = upload === undefined ? undefined : await this.files.record(tx, senderId, draft.kind === 'image' ? 'image' : 'file', upload)
        const inserted = await insertMessage(tx, { id, senderId, receiverId: peerId, kind: draft.kind, content: draft.content, fileId: file?.id ?? null })
        if (inserted === undefined) throw new IdTaken()
        await setLastSeq(tx, senderId, peerId, inserted.seq)
        const message = toMessage({
          id, seq: inserted.seq, senderId, receiverId: peerId, kind: draft.kind, content: draft.content, createdAt: inserted.createdAt, readAt: null,
          fileId: file?.id ?? null, fileName: file?.name ?? null, fileSize: file?.size ?? null, fileMimeType: file?.mimeType ?? null, fileSha256: file?.sha256 ?? null
        })
        emit(senderId, 'message.created', message)
        emit(peerId, 'message.created', message)
        // The bytes are in place before the commit makes the message visible; if the commit fails they are removed below.
        if (upload !== undefined) await upload.staged.commit(file!.id)
        return message
      })
      return { message, created: true }
    } catch (err) {
      await upload?.staged.discard()
      if (!(err instanceof IdTaken)) throw err
    }
    const existing = await findMessage(this.app.db, id)
    if (existing === undefined) fail('MESSAGE_ID_CONFLICT')
    return this.retried(existing, same)
  }

  private retried (existing: MessageRow, same: (row: MessageRow) => boolean): SendResult {
    if (!same(existing)) fail('MESSAGE_ID_CONFLICT')
    return { message: toMessage(existing), created: false }
  }

  /** The messaging policy: not to yourself (400), to an existing user (404), who has you or whom you have as a contact (403). */
  private async checkMaySend (senderId: string, peerId: string): Promise<void> {
    await this.checkPeer(senderId, peerId)
    if (!await this.contacts.mayTalk(senderId, peerId)) fail('NOT_A_CONTACT')
  }

  private async checkPeer (userId: string, peerId: string): Promise<void> {
    if (peerId === userId) fail('CANNOT_MESSAGE_SELF')
    if (await this.users.find({ id: peerId }) === undefined) fail('USER_NOT_FOUND')
  }

  async history (ownerId: string, peerId: string, page: { before?: string, limit: number }): Promise<{ messages: Message[], hasMore: boolean }> {
    await this.checkPeer(ownerId, peerId)
    let beforeSeq: number | undefined
    if (page.before !== undefined) {
      beforeSeq = await findSeqInPair(this.app.db, page.before, ownerId, peerId)
      if (beforeSeq === undefined) fail('MESSAGE_NOT_FOUND', 'before is not a message of this conversation')
    }
    const afterSeq = await findClearedSeq(this.app.db, ownerId, peerId)
    const rows = await listHistory(this.app.db, ownerId, peerId, { afterSeq, beforeSeq, limit: page.limit + 1 })
    return { messages: rows.slice(0, page.limit).map(toMessage), hasMore: rows.length > page.limit }
  }

  async conversations (ownerId: string): Promise<Conversation[]> {
    const rows = await listConversations(this.app.db, ownerId)
    const peers = await this.users.withPresence(rows.map((row) => row.peer))
    return rows.map((row, i) => ({
      peer: peers[i]!,
      lastMessage: row.lastMessage === undefined ? null : toMessage(row.lastMessage),
      unreadCount: row.unreadCount
    }))
  }

  /** Only the receiver marks a message read (the sender gets 403, anyone else 404); the first readAt is kept. */
  async markRead (readerId: string, messageId: string): Promise<{ id: string, readAt: string }> {
    const readAt = new Date()
    const marked = await this.app.events.transaction(async (tx, emit) => {
      const row = await markRead(tx, messageId, readerId, readAt)
      if (row === undefined) return false
      const event = { messageIds: [messageId], readerId, readAt: readAt.toISOString() }
      emit(row.senderId, 'message.read', event)
      emit(readerId, 'message.read', event)
      return true
    })
    if (marked) return { id: messageId, readAt: readAt.toISOString() }
    const existing = await findMessage(this.app.db, messageId)
    if (existing === undefined || (existing.receiverId !== readerId && existing.senderId !== readerId)) fail('MESSAGE_NOT_FOUND')
    if (existing.receiverId !== readerId) fail('NOT_MESSAGE_RECEIVER')
    return { id: messageId, readAt: existing.readAt!.toISOString() }
  }

  /** Marks read every unread message from the peer up to and including `upTo` that the reader has not cleared. */
  async markReadUpTo (readerId: string, peerId: string, upTo: string): Promise<{ messageIds: string[], readAt: string }> {
    await this.checkPeer(readerId, peerId)
    const maxSeq = await findSeqInPair(this.app.db, upTo, readerId, peerId)
    if (maxSeq === undefined) fail('MESSAGE_NOT_FOUND', 'upTo is not a message of this conversation')
    const readAt = new Date()
    const messageIds = await this.app.events.transaction(async (tx, emit) => {
      const afterSeq = await findClearedSeq(tx, readerId, peerId)
      const ids = await markReadUpTo(tx, readerId, peerId, { afterSeq, maxSeq }, readAt)
      if (ids.length > 0) {
        const event = { messageIds: ids, readerId, readAt: readAt.toISOString() }
        emit(peerId, 'message.read', event)
        emit(readerId, 'message.read', event)
      }
      return ids
    })
    return { messageIds, readAt: readAt.toISOString() }
  }

  /**
   * Hides the conversation's messages so far from the caller only. Messages both users have cleared are deleted,
   * with the files only they carried (rows now, bytes after the commit).
   */
  async clear (ownerId: string, peerId: string): Promise<void> {
    await this.checkPeer(ownerId, peerId)
    const clearedAt = new Date()
    const removedFiles = await this.app.events.transaction(async (tx, emit) => {
      await lockConversations(tx, ownerId, peerId)
      await clearConversation(tx, ownerId, peerId)
      const fileIds = await deleteClearedByBoth(tx, ownerId, peerId)
      emit(ownerId, 'history.cleared', { peerId, clearedAt: clearedAt.toISOString() })
      return this.files.removeUnreferenced(tx, fileIds)
    })
    await this.files.removeBytes(removedFiles)
  }
}
