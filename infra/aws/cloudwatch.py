"""CloudWatch adapters: metric alarms (plain and metric math) and dashboards.

Log groups live in :mod:`infra.aws.logs` (a different API, CloudWatch Logs).
"""

from __future__ import annotations

from typing import Any

from infra.aws.base import AwsEnv, Created, ResourceAdapter, ResourceRef, error_code

#: DescribeAlarms accepts at most 100 AlarmNames per call (CloudWatch API reference).
DESCRIBE_ALARMS_BATCH = 100

#: Plan input name -> PutMetricAlarm / DescribeAlarms field, for the scalar settings.
ALARM_FIELDS: dict[str, str] = {
    "alarmDescription": "AlarmDescription",
    "actionsEnabled": "ActionsEnabled",
    "metricName": "MetricName",
    "namespace": "Namespace",
    "statistic": "Statistic",
    "extendedStatistic": "ExtendedStatistic",
    "period": "Period",
    "unit": "Unit",
    "evaluationPeriods": "EvaluationPeriods",
    "datapointsToAlarm": "DatapointsToAlarm",
    "threshold": "Threshold",
    "comparisonOperator": "ComparisonOperator",
    "treatMissingData": "TreatMissingData",
    "evaluateLowSampleCountPercentiles": "EvaluateLowSampleCountPercentile",
    "thresholdMetricId": "ThresholdMetricId",
}
#: Plan input name -> field, for the action lists.
ACTION_FIELDS: dict[str, str] = {
    "alarmActions": "AlarmActions",
    "okActions": "OKActions",
    "insufficientDataActions": "InsufficientDataActions",
}


def alarm_arn(name: str, env: AwsEnv) -> str:
    """The ARN of a metric alarm."""
    return f"arn:{env.partition}:cloudwatch:{env.region}:{env.account_id}:alarm:{name}"


def dashboard_arn(name: str, env: AwsEnv) -> str:
    """The ARN of a dashboard (dashboards are global: no region in the ARN)."""
    return f"arn:{env.partition}:cloudwatch::{env.account_id}:dashboard/{name}"


def _dimensions_to_aws(dimensions: dict[str, Any] | None) -> list[dict[str, str]]:
    return [{"Name": k, "Value": str(v)} for k, v in (dimensions or {}).items()]


def _dimensions_from_aws(dimensions: list[dict[str, str]] | None) -> dict[str, str] | None:
    return {d["Name"]: d["Value"] for d in dimensions or []} or None


def _query_to_aws(query: dict[str, Any]) -> dict[str, Any]:
    """One ``metricQueries`` entry of the Plan as a CloudWatch MetricDataQuery."""
    result: dict[str, Any] = {"Id": query["id"]}
    for key, aws in (("expression", "Expression"), ("label", "Label"),
                     ("returnData", "ReturnData"), ("period", "Period"),
                     ("accountId", "AccountId")):
        if query.get(key) is not None:
            result[aws] = query[key]
    metric = query.get("metric")
    if metric:
        stat: dict[str, Any] = {
            "Metric": {"MetricName": metric["metricName"],
                       "Dimensions": _dimensions_to_aws(metric.get("dimensions"))},
            "Period": int(metric["period"]), "Stat": metric["stat"]}
        if metric.get("namespace"):
            stat["Metric"]["Namespace"] = metric["namespace"]
        if metric.get("unit"):
            stat["Unit"] = metric["unit"]
        result["MetricStat"] = stat
    return result


def _query_from_aws(query: dict[str, Any], planned: dict[str, Any] | None) -> dict[str, Any]:
    """A live MetricDataQuery in the Plan's shape. ``planned`` is the Plan's query with the
    same id: when it leaves ``returnData`` unset, AWS's default (true) is not reported."""
    result: dict[str, Any] = {"id": query["Id"]}
    for key, aws in (("expression", "Expression"), ("label", "Label"),
                     ("returnData", "ReturnData"), ("period", "Period"),
                     ("accountId", "AccountId")):
        if query.get(aws) is not None:
            result[key] = query[aws]
    if planned is not None and planned.get("returnData") is None \
            and result.get("returnData") is True:
        del result["returnData"]
    stat = query.get("MetricStat")
    if stat:
        metric = stat.get("Metric") or {}
        result["metric"] = {key: value for key, value in (
            ("metricName", metric.get("MetricName")), ("namespace", metric.get("Namespace")),
            ("dimensions", _dimensions_from_aws(metric.get("Dimensions"))),
            ("period", stat.get("Period")), ("stat", stat.get("Stat")),
            ("unit", stat.get("Unit"))) if value is not None}
    return result


def _tags(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


class MetricAlarmAdapter(ResourceAdapter):
    """``aws.cloudwatch.MetricAlarm`` (plain metric or ``metricQueries`` metric math);
    Pulumi id and import id: the alarm name."""

    type_token = "aws:cloudwatch/metricAlarm:MetricAlarm"
    service = "cloudwatch"
    name_input = "name"
    name_kind = "alarm"

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        name = inputs["name"]
        return name, {**inputs, "arn": alarm_arn(name, env), "id": name}

    @staticmethod
    def put_request(inputs: dict[str, Any], name: str) -> dict[str, Any]:
        """The PutMetricAlarm request for the Plan's inputs."""
        request: dict[str, Any] = {"AlarmName": name}
        for key, aws in ALARM_FIELDS.items():
            if inputs.get(key) is not None:
                request[aws] = inputs[key]
        for key, aws in ACTION_FIELDS.items():
            if inputs.get(key):
                request[aws] = list(inputs[key])
        if inputs.get("dimensions"):
            request["Dimensions"] = _dimensions_to_aws(inputs["dimensions"])
        if inputs.get("metricQueries"):
            request["Metrics"] = [_query_to_aws(q) for q in inputs["metricQueries"]]
        if inputs.get("tags"):
            request["Tags"] = _tags(inputs["tags"])
        return request

    def create(self, session: Any, ref: ResourceRef) -> Created:
        cloudwatch = self.client(session, self.service)
        name = ref.physical_name
        found = self._describe(cloudwatch, [name]).get(name)
        existed = found is not None
        if not existed:
            cloudwatch.put_metric_alarm(**self.put_request(ref.inputs, name))
            found = self._describe(cloudwatch, [name]).get(name) or {}
        arn = found.get("AlarmArn") or ref.outputs.get("arn")
        return Created(name, {**ref.inputs, "arn": arn, "id": name}, existed)

    @staticmethod
    def _describe(cloudwatch: Any, names: list[str]) -> dict[str, dict]:
        """Alarm name -> DescribeAlarms entry, for ``names`` (100 names a call)."""
        found: dict[str, dict] = {}
        paginator = cloudwatch.get_paginator("describe_alarms")
        for start in range(0, len(names), DESCRIBE_ALARMS_BATCH):
            batch = names[start:start + DESCRIBE_ALARMS_BATCH]
            for page in paginator.paginate(AlarmNames=batch, AlarmTypes=["MetricAlarm"]):
                for alarm in page.get("MetricAlarms") or []:
                    found[alarm["AlarmName"]] = alarm
        return found

    def prefetch(self, session: Any, refs: list[ResourceRef]) -> dict[str, dict]:
        """Every planned alarm in DescribeAlarms calls of up to 100 names each."""
        names = sorted({ref.physical_name for ref in refs if ref.physical_name})
        return self._describe(self.client(session, self.service), names)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        cloudwatch = self.client(session, self.service)
        alarms = (prefetched if prefetched is not None
                  else self._describe(cloudwatch, [ref.physical_name]))
        alarm = alarms.get(ref.physical_name)
        if alarm is None:
            return None
        state: dict[str, Any] = {"name": alarm["AlarmName"], "arn": alarm["AlarmArn"],
                                 "id": alarm["AlarmName"]}
        for key, aws in ALARM_FIELDS.items():
            if alarm.get(aws) is not None:
                state[key] = alarm[aws]
        for key, aws in ACTION_FIELDS.items():
            state[key] = list(alarm.get(aws) or [])
        state["dimensions"] = _dimensions_from_aws(alarm.get("Dimensions"))
        planned = {q.get("id"): q for q in ref.inputs.get("metricQueries") or []}
        state["metricQueries"] = [_query_from_aws(q, planned.get(q.get("Id")))
                                  for q in alarm.get("Metrics") or []] or None
        if "tags" in ref.inputs:  # CloudWatch has no batch read of tags
            tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])
            state["tags"] = {t["Key"]: t["Value"] for t in tags.get("Tags") or []}
        return state

    def list(self, session: Any, prefix: str) -> list[str]:
        paginator = self.client(session, self.service).get_paginator("describe_alarms")
        return [alarm["AlarmName"]
                for page in paginator.paginate(
                    AlarmTypes=["MetricAlarm"], **({"AlarmNamePrefix": prefix} if prefix else {}))
                for alarm in page.get("MetricAlarms") or []]


class DashboardAdapter(ResourceAdapter):
    """``aws.cloudwatch.Dashboard``; Pulumi id and import id: the dashboard name."""

    type_token = "aws:cloudwatch/dashboard:Dashboard"
    service = "cloudwatch"
    name_input = "dashboardName"
    name_kind = "dashboard"

    def outputs(self, inputs: dict[str, Any], env: AwsEnv) -> tuple[str, dict[str, Any]]:
        name = inputs["dashboardName"]
        return name, {**inputs, "dashboardArn": dashboard_arn(name, env), "id": name}

    @staticmethod
    def _get(cloudwatch: Any, name: str) -> dict[str, Any] | None:
        try:
            return cloudwatch.get_dashboard(DashboardName=name)
        except Exception as err:
            if error_code(err) in ("ResourceNotFound", "ResourceNotFoundException"):
                return None
            raise

    def create(self, session: Any, ref: ResourceRef) -> Created:
        cloudwatch = self.client(session, self.service)
        name = ref.physical_name
        found = self._get(cloudwatch, name)
        existed = found is not None
        if not existed:
            cloudwatch.put_dashboard(DashboardName=name,
                                     DashboardBody=ref.inputs["dashboardBody"])
            found = self._get(cloudwatch, name) or {}
        arn = found.get("DashboardArn") or ref.outputs.get("dashboardArn")
        return Created(name, {**ref.inputs, "dashboardArn": arn, "id": name}, existed)

    def read(self, session: Any, ref: ResourceRef, prefetched: Any = None
             ) -> dict[str, Any] | None:
        # One dashboard per stack: ListDashboards returns no bodies, so a batch read would
        # only add a call.
        found = self._get(self.client(session, self.service), ref.physical_name)
        if found is None:
            return None
        return {"dashboardName": found["DashboardName"],
                "dashboardBody": found["DashboardBody"],
                "dashboardArn": found["DashboardArn"], "id": found["DashboardName"]}

    def list(self, session: Any, prefix: str) -> list[str]:
        # A stack's dashboard is named after the stack itself ("{app}-{env}"), which is the
        # prefix without its trailing hyphen.
        stack_name = prefix.rstrip("-")
        paginator = self.client(session, self.service).get_paginator("list_dashboards")
        return [entry["DashboardName"]
                for page in paginator.paginate(
                    **({"DashboardNamePrefix": stack_name} if stack_name else {}))
                for entry in page.get("DashboardEntries") or []
                if entry["DashboardName"] == stack_name
                or entry["DashboardName"].startswith(prefix)]


ADAPTERS = (MetricAlarmAdapter(), DashboardAdapter())
