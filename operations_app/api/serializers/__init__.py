"""Request and response shapes of the operations API, one module per topic.

Serializers parse and present; what a platform, a VM or a job may be is checked by the
services, so the API, the pages, the admin and the CLI agree.
"""
