-- `search` on GET /contacts: any part of a name, phone, email or document,
-- without regard to case or accents, through an FTS5 trigram index kept in
-- step with `contacts` by triggers. The index holds no copy of the text
-- (external content); `INSERT INTO contacts_search(contacts_search) VALUES ('rebuild')`
-- rebuilds it from `contacts` should it ever drift.
CREATE VIRTUAL TABLE `contacts_search` USING fts5(
	name, phone, email, document,
	content='contacts', content_rowid='rowid',
	tokenize='trigram remove_diacritics 1'
);
--> statement-breakpoint
CREATE TRIGGER `contacts_search_insert` AFTER INSERT ON `contacts` BEGIN
	INSERT INTO contacts_search (rowid, name, phone, email, document) VALUES (new.rowid, new.name, new.phone, new.email, new.document);
END;
--> statement-breakpoint
CREATE TRIGGER `contacts_search_delete` AFTER DELETE ON `contacts` BEGIN
	INSERT INTO contacts_search (contacts_search, rowid, name, phone, email, document) VALUES ('delete', old.rowid, old.name, old.phone, old.email, old.document);
END;
--> statement-breakpoint
-- Every message updates its contact; only a change to a searched field touches the index.
CREATE TRIGGER `contacts_search_update` AFTER UPDATE OF name, phone, email, document ON `contacts`
WHEN old.name IS NOT new.name OR old.phone IS NOT new.phone OR old.email IS NOT new.email OR old.document IS NOT new.document
BEGIN
	INSERT INTO contacts_search (contacts_search, rowid, name, phone, email, document) VALUES ('delete', old.rowid, old.name, old.phone, old.email, old.document);
	INSERT INTO contacts_search (rowid, name, phone, email, document) VALUES (new.rowid, new.name, new.phone, new.email, new.document);
END;
--> statement-breakpoint
INSERT INTO contacts_search (contacts_search) VALUES ('rebuild');
