print("sched-bench: not written yet")
