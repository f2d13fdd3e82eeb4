// Conversations and messages: sending (text, files, images) under the messaging policy, history pages, the
// conversation list, read receipts and clearing. Every change writes its events with it.
import type { Multipart } from '@fastify/multipart'
import type { Db } from '../../db/client.ts'
import { fail } from '../../errors.ts'
import { type Conversation, MAX_LISTED, type Message } from '../../schemas/models.ts'
import type { ContactsService } from '../contacts/service.ts'
import type { Outbox } from '../events/outbox.ts'
import type { TypingRelay } from '../events/typing.ts'
import type { FilesService } from '../files/service.ts'
import type { UsersService } from '../users/service.ts'
import { toMessage } from './present.ts'
import {
  clearConversation, deleteClearedByBoth, eraseClearedEvents, findClearedSeq, findMessage, findSeqInPair, listConversations, listHistory, lockConversations, markRead,
  markReadUpTo
} from './repository.ts'
import type { MessageWriter, SendResult } from './writer.ts'

export interface MessagesDependencies {
  db: Db
  outbox: Outbox
  writer: MessageWriter
  users: UsersService
  contacts: ContactsService
  files: FilesService
  typingRelay: TypingRelay
}

export class MessagesService {
  private readonly db: Db
  private readonly outbox: Outbox
  private readonly writer: MessageWriter
  private readonly users: UsersService
  private readonly contacts: ContactsService
  private readonly files: FilesService
  private readonly typingRelay: TypingRelay

  constructor (deps: MessagesDependencies) {
    ({ db: this.db, outbox: this.outbox, writer: this.writer, users: this.users, contacts: this.contacts, files: this.files, typingRelay: this.typingRelay } = deps)
  }

  async sendText (senderId: string, peerId: string, input: { id?: string, content: string }): Promise<SendResult> {
    if (peerId === senderId) fail('CANNOT_MESSAGE_SELF')
    return this.writer.send({ senderId, peerId, id: input.id?.toLowerCase(), kind: 'text', content: input.content })
  }

  /** Streams the upload to storage (after the policy check), then stores the message; no bytes remain on any failure. */
  async sendFile (senderId: string, peerId: string, kind: 'file' | 'image', parts: AsyncIterable<Multipart>): Promise<SendResult> {
    await this.checkMaySend(senderId, peerId)
    const upload = await this.files.receive(parts, kind, senderId)
    return this.writer.send({ senderId, peerId, id: upload.id, kind, content: null, upload })
  }

  /** Tells the peer's streams that the caller is (or stopped) typing: only between users who may message each other. */
  async typing (userId: string, peerId: string, typing: boolean): Promise<void> {
    await this.checkMaySend(userId, peerId)
    this.typingRelay.offer(userId, peerId, typing)
  }

  /**
   * The messaging policy: not to yourself (400), to an existing user (404), neither having blocked the other (403
   * BLOCKED), who has you or whom you have as a contact (403 NOT_A_CONTACT). Checked before the bytes are received.
   */
  private async checkMaySend (senderId: string, peerId: string): Promise<void> {
    await this.checkPeer(senderId, peerId)
    await this.contacts.checkMayTalk(senderId, peerId)
  }

  private async checkPeer (userId: string, peerId: string): Promise<void> {
    if (peerId === userId) fail('CANNOT_MESSAGE_SELF')
    if (await this.users.find({ id: peerId }) === undefined) fail('USER_NOT_FOUND')
  }

  async history (ownerId: string, peerId: string, page: { before?: string, limit: number }): Promise<{ messages: Message[], hasMore: boolean }> {
    await this.checkPeer(ownerId, peerId)
    let beforeSeq: number | undefined
    if (page.before !== undefined) {
      beforeSeq = await findSeqInPair(this.db, page.before, ownerId, peerId)
      if (beforeSeq === undefined) fail('MESSAGE_NOT_FOUND', 'before is not a message of this conversation')
    }
    const afterSeq = await findClearedSeq(this.db, ownerId, peerId)
    const rows = await listHistory(this.db, ownerId, peerId, { afterSeq, beforeSeq, limit: page.limit + 1 })
    return { messages: rows.slice(0, page.limit).map((row) => toMessage(row, this.files)), hasMore: rows.length > page.limit }
  }

  async conversations (ownerId: string): Promise<Conversation[]> {
    const rows = await listConversations(this.db, ownerId)
    const peers = await this.users.withPresence(ownerId, rows.map((row) => row.peer))
    return rows.map((row, i) => ({
      peer: peers[i]!,
      lastMessage: row.lastMessage === undefined ? null : toMessage(row.lastMessage, this.files),
      unreadCount: row.unreadCount
    }))
  }

  /** Only the receiver marks a message read (the sender gets 403, anyone else 404); the first readAt is kept. */
  async markRead (readerId: string, messageId: string): Promise<{ id: string, readAt: string }> {
    const readAt = new Date()
    const marked = await this.outbox.transaction(async (tx, emit) => {
      const row = await markRead(tx, messageId, readerId, readAt)
      if (row === undefined) return false
      const event = { messageIds: [messageId], readerId, readAt: readAt.toISOString() }
      emit(row.senderId, 'message.read', event)
      emit(readerId, 'message.read', event)
      return true
    })
    if (marked) return { id: messageId, readAt: readAt.toISOString() }
    const existing = await findMessage(this.db, messageId)
    if (existing === undefined || (existing.receiverId !== readerId && existing.senderId !== readerId)) fail('MESSAGE_NOT_FOUND')
    if (existing.receiverId !== readerId) fail('NOT_MESSAGE_RECEIVER')
    return { id: messageId, readAt: existing.readAt!.toISOString() }
  }

  /** Marks read every unread message from the peer up to and including `upTo` that the reader has not cleared. */
  async markReadUpTo (readerId: string, peerId: string, upTo: string): Promise<{ messageIds: string[], readAt: string }> {
    await this.checkPeer(readerId, peerId)
    const maxSeq = await findSeqInPair(this.db, upTo, readerId, peerId)
    if (maxSeq === undefined) fail('MESSAGE_NOT_FOUND', 'upTo is not a message of this conversation')
    const readAt = new Date()
    const messageIds = await this.outbox.transaction(async (tx, emit) => {
      const ids = await markReadUpTo(tx, readerId, peerId, { maxSeq, limit: MAX_LISTED }, readAt)
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
    const removedFiles = await this.outbox.transaction(async (tx, emit) => {
      await lockConversations(tx, ownerId, peerId)
      const clearedSeq = await clearConversation(tx, ownerId, peerId)
      await eraseClearedEvents(tx, ownerId, peerId, clearedSeq)
      const fileIds = await deleteClearedByBoth(tx, ownerId, peerId)
      emit(ownerId, 'history.cleared', { peerId, clearedAt: clearedAt.toISOString() })
      return this.files.removeUnreferenced(tx, fileIds)
    })
    await this.files.removeBytes(removedFiles)
  }
}
