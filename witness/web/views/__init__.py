"""Views by area: home, auth, devices, cases, activities. They read and render; every
change goes through the services of the app that owns it."""
