// Reactions of a message as a value: adding and removing one user's reaction, grouped by emoji in order of first use.
import type { Reaction } from '../../schemas/models.ts'

/** The most different reactions one user may add to one message. */
export const MAX_REACTIONS_PER_USER = 20

export type ReactionChange =
  | { changed: false }
  | { changed: true, reactions: Reaction[] }
  | { tooMany: true }

/** Adds `userId`'s `emoji` (at the end of its group, or as a new last group); nothing changes when already there. */
export function addReaction (reactions: Reaction[], userId: string, emoji: string): ReactionChange {
  const group = reactions.find((reaction) => reaction.emoji === emoji)
  if (group?.userIds.includes(userId) === true) return { changed: false }
  const mine = reactions.filter((reaction) => reaction.userIds.includes(userId)).length
  if (mine >= MAX_REACTIONS_PER_USER) return { tooMany: true }
  if (group === undefined) return { changed: true, reactions: [...reactions, { emoji, userIds: [userId] }] }
  return { changed: true, reactions: reactions.map((reaction) => reaction === group ? { emoji, userIds: [...reaction.userIds, userId] } : reaction) }
}

/** Removes `userId`'s `emoji`; a group left without users goes. Nothing changes when it was not there. */
export function removeReaction (reactions: Reaction[], userId: string, emoji: string): ReactionChange {
  const group = reactions.find((reaction) => reaction.emoji === emoji)
  if (group?.userIds.includes(userId) !== true) return { changed: false }
  const userIds = group.userIds.filter((id) => id !== userId)
  return {
    changed: true,
    reactions: userIds.length === 0
      ? reactions.filter((reaction) => reaction !== group)
      : reactions.map((reaction) => reaction === group ? { emoji, userIds } : reaction)
  }
}
