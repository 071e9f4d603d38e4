"""Server-rendered pages, one module per topic; ``urls.py`` names them by topic.

Each view parses the request, calls one selector or service, and renders; the text and
numbers a page shows come from ``operations_app.presentation``. ``common`` holds the
request-level helpers the topics share (object-or-404, role checks for buttons, a safe
``next`` URL). The services check roles and states; a refusal becomes a message or
comes back on the form, never an error page.
"""
