import time, json
from snnas.search import search
t=time.time()
r = search("search_spaces/digits.yaml", "/tmp/dhs_meas", strategy="dhs", budget=3, quiet=True, workers=2,
           strategy_options={"supernet_warmup": 2, "derive_every": 2, "time_steps": 2, "energy_lambda": [0, 0.3, 1.0]})
print("total s", time.time()-t)
for rec in r.records: print(rec.index, rec.arch.summary(), rec.metrics and (rec.metrics.get("accuracy"), rec.metrics.get("energy_mj")))
for f in r.final: print(json.dumps(f)[:400])
