"""sgcflow from Python: submit a job, follow it, take its trained models out and use them.

A thin layer over the code the `sgc` command runs (nothing here is a copy)::

    import sgcflow

    spec = sgcflow.JobSpec.load("job.yaml")          # every field checked, as `sgc validate`
    run = sgcflow.submit(spec, local=True)           # or submit("job.yaml"); local=False: AWS
    run.wait(progress=True)                          # a progress bar until the job ends
    run.status()                                     # as `sgc status --json`
    run.download("models/")                         # model-<i>.npz and model-<i>.json
    for model in sgcflow.load_models("models/"):
        model.predict(X)                             # labels as in your data ("benign", ...)
        model.predict_proba(X)                       # one column per class (model.classes)
        model.params                                 # named arrays: W, b / W1, b1, W2, ...

``local=True`` runs on the `sgc local up` server when one runs, else on an emulator inside this
Python process (stopped at exit). ``Run.attach(run_id)`` follows a job submitted earlier;
``run.evaluate("test.csv")`` scores the models as `sgc eval` does. docs/python.md has more.
"""

from __future__ import annotations

from coordinator.backends.runs import JobFailed, Run, submit
from coordinator.contract.trained import ModelFileError, TrainedModel, load_models
from coordinator.spec.jobspec import JobSpec, JobSpecError

__all__ = ["JobFailed", "JobSpec", "JobSpecError", "ModelFileError", "Run", "TrainedModel",
           "load_models", "submit"]
