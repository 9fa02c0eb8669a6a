"""The messages extra (kimia.extras): the notification channels members and club owners are told
through (SMS, e-mail, signed webhooks), the message templates a club edits in Persian and English,
and the panel's pages and API routes over them and over the deliveries. Its hooks are in
``plugin``; it talks to kimia only through ``kimia.plugins`` (and ``kimia.web.panel.fmt``)."""
