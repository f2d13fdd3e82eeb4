// A lock file holding the owner's pid, so a second process cannot open the same embedded database.
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs'

export class LockedError extends Error {
  override name = 'LockedError'
}

function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export function acquireDirLock (path: string): { release: () => void } {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      let released = false
      return {
        release: () => {
          if (released) return
          released = true
          rmSync(path, { force: true })
        }
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const pid = Number(readFileSync(path, 'utf8').trim())
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
        throw new LockedError(`${path} is held by process ${pid}${pid === process.pid ? ' (this process: is the database already open?)' : ''}; the embedded database serves one process at a time (use DATABASE_URL for several instances)`)
      }
      rmSync(path, { force: true }) // left by a process that died
    }
  }
  throw new LockedError(`could not take ${path}`)
}
