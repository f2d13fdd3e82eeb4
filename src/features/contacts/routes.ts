// /contacts: the caller's address book.
import { Type } from '@sinclair/typebox'
import { errorResponse, ref, unauthorizedResponse } from '../../schemas/common.ts'
import { ContactSchema } from '../../schemas/models.ts'
import type { App } from '../../types.ts'
import { AddContactBodySchema, ContactListSchema, ContactParamsSchema } from './schemas.ts'
import type { ContactsService } from './service.ts'

export default async function contactsRoutes (app: App, { contacts }: { contacts: ContactsService }) {
  app.addHook('onRequest', app.authenticate)

  app.get('', {
    schema: {
      operationId: 'listContacts',
      summary: 'Your contacts, with live online status',
      tags: ['contacts'],
      security: [{ bearerAuth: [] }],
      response: { 200: ContactListSchema, 401: unauthorizedResponse }
    }
  }, async (request) => ({ contacts: await contacts.list(request.auth.userId) }))

  app.post('', {
    schema: {
      operationId: 'addContact',
      summary: 'Add a user to your contacts',
      description: 'By `userId` or by `username` (exactly one). Only your list changes. Sends `contact.added` to your streams.',
      tags: ['contacts'],
      security: [{ bearerAuth: [] }],
      body: AddContactBodySchema,
      response: {
        201: ref(ContactSchema),
        400: errorResponse('VALIDATION_ERROR, INVALID_JSON or CANNOT_ADD_SELF.'),
        401: unauthorizedResponse,
        404: errorResponse('USER_NOT_FOUND'),
        409: errorResponse('CONTACT_EXISTS'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE')
      }
    }
  }, async (request, reply) => {
    reply.code(201)
    return contacts.add(request.auth.userId, request.body)
  })

  app.delete('/:contactId', {
    schema: {
      operationId: 'removeContact',
      summary: 'Remove a user from your contacts',
      description: 'Sends `contact.removed` to your streams. Messages already exchanged stay.',
      tags: ['contacts'],
      security: [{ bearerAuth: [] }],
      params: ContactParamsSchema,
      response: {
        204: Type.Null({ description: 'Removed.' }),
        400: errorResponse('VALIDATION_ERROR: contactId is not a UUID.'),
        401: unauthorizedResponse,
        404: errorResponse('CONTACT_NOT_FOUND')
      }
    }
  }, async (request, reply) => {
    await contacts.remove(request.auth.userId, request.params.contactId)
    return reply.code(204).send(null)
  })
}
