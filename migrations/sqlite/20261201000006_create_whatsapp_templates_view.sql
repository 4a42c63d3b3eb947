-- The organisations' WhatsApp templates as last synced from the provider.
-- A template the provider no longer lists is deleted from the view.
CREATE TABLE whatsapp_templates_view (
    template_id      text PRIMARY KEY,
    organisation_id  text NOT NULL,
    name             text NOT NULL,
    language         text NOT NULL,
    status           text NOT NULL,
    definition       text NOT NULL,
    synced_at        text NOT NULL
);
CREATE INDEX whatsapp_templates_view_listing ON whatsapp_templates_view (organisation_id, name, language);
