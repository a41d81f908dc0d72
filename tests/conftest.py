from playbill.testing import load_profile

load_profile()
