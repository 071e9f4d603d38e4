"""Server-rendered pages for the policies of every kind, one module per topic.

Each view parses the request, calls one selector or service, and renders. Rules about
who may do what live in the services; the pages only hide buttons a user cannot use,
and turn any refusal into a message instead of an error page. What depends on the
document's kind (starter document, sections, filters) is asked of the kind registry;
how the kind's pages word things and where they live, of ``common.PAGES``. Every view
takes the ``kind`` its URL pattern passes (``profiles_app.urls``).
"""
