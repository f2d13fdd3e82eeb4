// The Limits answer, read off the configuration and the very schemas and sets that enforce each limit.
import type { Config } from '../../config.ts'
import { Password, type Limits, Username } from '../../schemas/models.ts'
import { IMAGE_TYPES } from '../files/images.ts'
import { HistoryQuerySchema, SendTextBodySchema } from '../messages/schemas.ts'

export function limitsOf (config: Pick<Config, 'maxUploadBytes' | 'maxStreamsPerUser' | 'storageQuotaBytes' | 'fileUrlTtlSeconds'>): Limits {
  const username = Username()
  const password = Password()
  return {
    maxUploadBytes: config.maxUploadBytes,
    maxMessageLength: SendTextBodySchema.properties.content.maxLength!,
    usernameLength: { min: username.minLength!, max: username.maxLength! },
    passwordLength: { min: password.minLength!, max: password.maxLength! },
    imageTypes: [...IMAGE_TYPES],
    historyPageMax: HistoryQuerySchema.properties.limit.maximum!,
    maxStreamsPerUser: config.maxStreamsPerUser,
    storageQuotaBytes: config.storageQuotaBytes,
    fileUrlTtlSeconds: config.fileUrlTtlSeconds
  }
}
