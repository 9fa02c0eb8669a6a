"""The API's areas, one module each; every module here is imported by kimia.web.api.load_routes."""
