"""Forms for the pages, one module per topic; ``base`` holds what they share.

The forms only parse what the browser sent into the values the services take; the
services decide (roles, states, names) and their errors land on the field their path
names.
"""
