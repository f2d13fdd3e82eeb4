// Where the SQL migrations (drizzle-kit output) are: migrations/ at the top of the project.
import { fileURLToPath } from 'node:url'

export const migrationsFolder = fileURLToPath(new URL('../../migrations', import.meta.url))
