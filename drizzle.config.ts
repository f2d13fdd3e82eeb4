// drizzle-kit configuration: generates SQL migrations in migrations/ from src/db/schema.ts.
import { defineConfig } from 'drizzle-kit'

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './migrations'
})
