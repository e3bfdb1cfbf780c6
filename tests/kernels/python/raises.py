# Fails on purpose: an exception in kforge_run is a runtime error whose traceback reaches the log.
def kforge_run(inputs, outputs, params):
    raise ValueError("kforge test: this kernel always fails")
