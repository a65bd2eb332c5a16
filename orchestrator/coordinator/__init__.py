"""The coordinator: carries out the pure decisions of `orchestrator.dispatch` against the task
store, git, the agents and a forge, in three steps that can run in one process or in three:

- PLAN (`planning.plan_cycle`): reconcile stale claims and finished containers, schedule, claim;
- RUN AGENTS (`agent.run_agent`): one agent per claimed task, ending in a `results.ResultRecord`;
- APPLY RESULTS (`apply.apply_results`): land commits, apply the agent's task changes, the
  failure policy, the attempt record, the queue-state commit.

`local.Coordinator` and `loop.run_loop` compose them in one process for `orchestrator run` and
`cycle`; the GitHub workflow runs them as its plan, agent and report jobs.
"""
