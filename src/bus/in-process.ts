// The bus of a single instance (the embedded database serves one process): published messages go straight
// to this instance's handlers, and nothing needs announcing at commit.
import { randomUUID } from 'node:crypto'
import { broadcastDefaults, type Bus, BusHandlers } from './bus.ts'

export function createInProcessBus (): Bus {
  const handlers = new BusHandlers()
  return {
    ...broadcastDefaults,
    instanceId: randomUUID(),
    kind: 'in-process',
    sendsAfterCommit: false,
    connected: () => true,
    noticeInTx: () => undefined,
    publish: async (message) => handlers.deliver(message),
    onMessage: (handler) => handlers.onMessage(handler),
    onReconnect: (handler) => handlers.onReconnect(handler),
    close: async () => {}
  }
}
