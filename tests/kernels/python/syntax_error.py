# Does not parse: a compile error, found before any runner starts.
def kforge_run(inputs, outputs, params)
    pass
