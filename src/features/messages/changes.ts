// Changes to a sent message: edit (sender, text only), delete for me or for everyone, reactions. Each runs in its
// own transaction with the message row locked, and writes its events with it; erasing a message for a user
// erases its events from that user's replayable log.
import type { Db } from '../../db/client.ts'
import { fail } from '../../errors.ts'
import type { Message } from '../../schemas/models.ts'
import type { Emit, Outbox } from '../events/outbox.ts'
import { eraseMessageEvents } from '../events/repository.ts'
import type { FilesService } from '../files/service.ts'
import { deleteMessage, hideMessage, lockMessage, type MessageForChange, updateContent, updateReactions } from './changes-repository.ts'
import { contentSha256, toMessage } from './present.ts'
import { addReaction, removeReaction } from './reactions.ts'

export type DeleteScope = 'me' | 'everyone'

export interface MessageChangesDependencies {
  outbox: Outbox
  files: FilesService
  /**
   * The policy between the two parties for reactions (throws to refuse). Being a party of the conversation is
   * checked here; this is where a refusal between the two users (blocking) plugs in.
   */
  checkMayReact?: (userId: string, peerId: string, tx: Db) => Promise<void>
}

/** The message as the caller sees it: 404 for anyone but its two parties, and for a party it is gone for. */
function visibleTo (found: MessageForChange | undefined, userId: string): MessageForChange {
  if (found === undefined) fail('MESSAGE_NOT_FOUND')
  const { row } = found
  if (row.senderId === userId ? !found.senderSees : row.receiverId !== userId || !found.receiverSees) fail('MESSAGE_NOT_FOUND')
  return found
}

/** message.updated to each party who still sees the message (an erased message's content never re-enters a log). */
function emitUpdated (emit: Emit, found: MessageForChange, message: Message): void {
  if (found.senderSees) emit(found.row.senderId, 'message.updated', message)
  if (found.receiverSees) emit(found.row.receiverId, 'message.updated', message)
}

export class MessageChanges {
  private readonly outbox: Outbox
  private readonly files: FilesService
  private readonly checkMayReact: NonNullable<MessageChangesDependencies['checkMayReact']>

  constructor (deps: MessageChangesDependencies) {
    this.outbox = deps.outbox
    this.files = deps.files
    this.checkMayReact = deps.checkMayReact ?? (async () => {})
  }

  /** Replaces a text message's content (its sender only); the first content's hash stays for idempotent retries. */
  async edit (userId: string, messageId: string, content: string): Promise<Message> {
    return this.outbox.transaction(async (tx, emit) => {
      const found = visibleTo(await lockMessage(tx, messageId), userId)
      const { row } = found
      if (row.senderId !== userId) fail('NOT_MESSAGE_SENDER')
      if (row.kind !== 'text') fail('NOT_EDITABLE')
      const change = { content, editedAt: new Date(), originalSha256: row.originalSha256 ?? contentSha256(row.content!) }
      await updateContent(tx, messageId, change)
      const message = toMessage({ ...row, ...change }, this.files)
      emitUpdated(emit, found, message)
      return message
    })
  }

  /**
   * `me`: hides the message from the caller. `everyone` (its sender only): deletes it for both. Either way the
   * message's events leave the log of whoever lost it; once nobody sees it, its row goes, and its file with it
   * when nothing else refers to the file (rows now, bytes after the commit).
   */
  async delete (userId: string, messageId: string, scope: DeleteScope): Promise<void> {
    const removedFiles = await this.outbox.transaction(async (tx, emit) => {
      const found = visibleTo(await lockMessage(tx, messageId), userId)
      const { row } = found
      const peerId = row.senderId === userId ? row.receiverId : row.senderId
      if (scope === 'everyone' && row.senderId !== userId) fail('NOT_MESSAGE_SENDER')
      const peerSees = row.senderId === userId ? found.receiverSees : found.senderSees
      if (scope === 'me') {
        emit(userId, 'message.deleted', { messageId, peerId, for: 'me' })
        await eraseMessageEvents(tx, userId, [messageId])
        if (peerSees) {
          await hideMessage(tx, messageId, userId)
          return []
        }
      } else {
        emit(userId, 'message.deleted', { messageId, peerId, for: 'everyone' })
        emit(peerId, 'message.deleted', { messageId, peerId: userId, for: 'everyone' })
        await eraseMessageEvents(tx, userId, [messageId])
      }
      // Nobody sees it any more.
      await eraseMessageEvents(tx, peerId, [messageId])
      const fileId = await deleteMessage(tx, messageId)
      return fileId === null ? [] : this.files.removeUnreferenced(tx, [fileId])
    })
    await this.files.removeBytes(removedFiles)
  }

  /** Adds (`add`) or removes the caller's reaction; a change that changes nothing writes and sends nothing. */
  async react (userId: string, messageId: string, emoji: string, add: boolean): Promise<Message> {
    return this.outbox.transaction(async (tx, emit) => {
      const found = visibleTo(await lockMessage(tx, messageId), userId)
      const { row } = found
      await this.checkMayReact(userId, row.senderId === userId ? row.receiverId : row.senderId, tx)
      const change = add ? addReaction(row.reactions, userId, emoji) : removeReaction(row.reactions, userId, emoji)
      if ('tooMany' in change) fail('TOO_MANY_REACTIONS')
      if (!change.changed) return toMessage(row, this.files)
      await updateReactions(tx, messageId, change.reactions)
      const message = toMessage({ ...row, reactions: change.reactions }, this.files)
      emitUpdated(emit, found, message)
      return message
    })
  }
}
