DROP INDEX "messages_file_id_idx";--> statement-breakpoint
CREATE INDEX "messages_file_id_idx" ON "messages" USING btree ("file_id") WHERE "messages"."file_id" is not null;