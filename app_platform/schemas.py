"""Request bodies of the platform's fixed resources, as marshmallow schemas: they validate
input (every problem reported with its path) and, converted to JSON Schema, document the
same bodies in OpenAPI. Entity records are different: their schema comes from each
entity's definition (engines/form)."""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app_platform.auth.tokens import SCOPES
from app_platform.errors import Unprocessable
from app_platform.models import GRANT_LEVELS

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,62}$", error="must match [a-z][a-z0-9_]{{0,62}}")
NO_DOUBLE_UNDERSCORE = validate.Regexp(r"^(?!.*__)", error="must not contain '__'")


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE


class LoginSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(max=64))
    password = fields.String(required=True, validate=validate.Length(max=1024))


class AppCreateSchema(StrictSchema):
    key = fields.String(required=True, validate=[KEY, NO_DOUBLE_UNDERSCORE])
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=validate.Length(max=4000))
    grants = fields.Dict(keys=fields.String(), values=fields.String(
        validate=validate.OneOf(GRANT_LEVELS)), load_default=dict)


class UserCreateSchema(StrictSchema):
    username = fields.String(required=True, validate=validate.Regexp(
        r"^[A-Za-z0-9_.@-]{2,64}$", error="2-64 letters, digits or _.@-"))
    password = fields.String(required=True, validate=validate.Length(min=8, max=1024))
    display_name = fields.String(load_default=None, allow_none=True,
                                 validate=validate.Length(max=200))
    email = fields.Email(load_default=None, allow_none=True)
    department = fields.String(load_default=None, allow_none=True,
                               validate=validate.Length(max=200))
    manager = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(max=64))
    roles = fields.List(fields.String(validate=KEY), load_default=lambda: ["member"])


class RoleCreateSchema(StrictSchema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))


class TokenCreateSchema(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)),
                         load_default=lambda: ["records:read"],
                         validate=validate.Length(min=1))


class InstallSchema(StrictSchema):
    app_key = fields.String(load_default=None, allow_none=True,
                            validate=[KEY, NO_DOUBLE_UNDERSCORE])
    with_sample_data = fields.Boolean(load_default=False, truthy={True}, falsy={False})


def load(schema: type[Schema], data: Any) -> dict[str, Any]:
    """Validate ``data``; a 422 listing every problem by path when it does not fit."""
    if not isinstance(data, dict):
        raise Unprocessable("the body must be a JSON object",
                            [{"path": "", "message": "must be an object"}])
    try:
        return schema().load(data)
    except ValidationError as exc:
        details = list(_flatten(exc.messages))
        raise Unprocessable(f"{details[0]['path']}: {details[0]['message']}"
                            if len(details) == 1 else f"{len(details)} problems in the body",
                            details) from None


def _flatten(messages: Any, prefix: str = "") -> Any:
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = f"{prefix}.{key}" if prefix and not isinstance(key, int) else (
                f"{prefix}[{key}]" if isinstance(key, int) else str(key))
            yield from _flatten(value, path)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            yield {"path": prefix, "message": message}
    else:
        yield {"path": prefix, "message": str(messages)}


_TYPES = {fields.String: "string", fields.Email: "string", fields.Boolean: "boolean",
          fields.Integer: "integer", fields.Dict: "object", fields.List: "array"}


def json_schema(schema: type[Schema]) -> dict[str, Any]:
    """The JSON Schema of a marshmallow schema, for the OpenAPI document."""
    props: dict[str, Any] = {}
    required = []
    for name, field in schema().fields.items():
        kind = next((t for cls, t in _TYPES.items() if isinstance(field, cls)), "string")
        prop: dict[str, Any] = {"type": kind}
        if isinstance(field, fields.List):
            inner = field.inner
            prop["items"] = {"type": next((t for cls, t in _TYPES.items()
                                           if isinstance(inner, cls)), "string")}
        if isinstance(field, fields.Email):
            prop["format"] = "email"
        for rule in field.validators:
            if isinstance(rule, validate.Regexp):
                prop["pattern"] = rule.regex.pattern
            elif isinstance(rule, validate.Length):
                if rule.min is not None:
                    prop["minLength" if kind == "string" else "minItems"] = rule.min
                if rule.max is not None:
                    prop["maxLength" if kind == "string" else "maxItems"] = rule.max
            elif isinstance(rule, validate.OneOf):
                prop["enum"] = list(rule.choices)
        if field.allow_none and not field.required:
            prop["type"] = [kind, "null"]
        props[name] = prop
        if field.required:
            required.append(name)
    out: dict[str, Any] = {"type": "object", "properties": props,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    return out
