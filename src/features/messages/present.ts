// A stored message row as the API's Message.
import { createHash } from 'node:crypto'
import type { Message } from '../../schemas/models.ts'
import type { FilesService } from '../files/service.ts'
import type { MessageRow } from './repository.ts'

export function toMessage (row: MessageRow, files: Pick<FilesService, 'toRef'>): Message {
  return {
    id: row.id,
    senderId: row.senderId,
    receiverId: row.receiverId,
    kind: row.kind,
    content: row.content,
    file: row.fileId === null ? null : files.toRef({ id: row.fileId, name: row.fileName!, size: row.fileSize!, mimeType: row.fileMimeType!, width: row.fileWidth, height: row.fileHeight, thumbnailSize: row.fileThumbnailSize }),
    createdAt: row.createdAt.toISOString(),
    readAt: row.readAt?.toISOString() ?? null,
    editedAt: row.editedAt?.toISOString() ?? null,
    reactions: row.reactions
  }
}

/** What an edited message keeps of its first content: enough to recognise a retry of the first send. */
export function contentSha256 (content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex')
}
