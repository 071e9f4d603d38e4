"""The signed-in user's own account: roles and API tokens ("Your account" page).

``services`` owns every token write (create, revoke one, revoke all) and the check that a
user touches only their own tokens; ``selectors`` lists them; ``views`` is the page.
"""
