"""deconfound's ML engine: datasets, models, influence, training methods.

Nothing in here knows about HTTP, SQL or the dashboard; the engine reports through
`jobs.recorder.Recorder` and is driven by `jobs.runner.run(spec, recorder, should_stop)`.
"""
