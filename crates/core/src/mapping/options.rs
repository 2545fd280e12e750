//! Mapping configuration: how EventBridge events form the CloudEvent `type` ([`TypeFormat`]), the
//! `source` override and the event bus name ([`MappingOptions`]).

use std::fmt;
use std::str::FromStr;

/// Invalid mapping configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The type format has a placeholder other than the four known ones.
    #[error(
        "type format {template:?} has unknown placeholder {{{name}}}: \
         use {{source}}, {{detail-type}}, {{account}} or {{region}}"
    )]
    UnknownPlaceholder { template: String, name: String },
    /// The type format has a `{` or `}` that doesn't form a placeholder.
    #[error(
        "type format {template:?} has an unmatched {brace:?}: write placeholders as \
         {{name}}, e.g. \"{{source}}.{{detail-type}}\"; braces can't appear otherwise"
    )]
    UnmatchedBrace { template: String, brace: char },
    /// The type format is empty.
    #[error("type format is empty: use e.g. \"{{source}}\" or \"{{source}}.{{detail-type}}\"")]
    EmptyTypeFormat,
    /// The source override is not a usable CloudEvents `source`.
    #[error(
        "source override {0:?} is invalid: use a non-empty URI-reference without spaces or \
         control characters, e.g. \"arn:aws:events:eu-west-1:123456789012:event-bus/default\""
    )]
    Source(String),
    /// The event bus name breaks EventBridge's naming rule.
    #[error("event bus name {0:?} is invalid: use 1-256 characters from A-Z a-z 0-9 . - _ /")]
    EventBus(String),
}

/// How an EventBridge event's fields form the CloudEvent `type`: a template with the
/// placeholders `{source}`, `{detail-type}`, `{account}` and `{region}`, e.g.
/// `{source}.{detail-type}`. The default is `{source}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeFormat {
    template: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(Field),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Source,
    DetailType,
    Account,
    Region,
}

impl TypeFormat {
    /// Parses `template`, rejecting unknown placeholders and stray braces.
    pub fn new(template: &str) -> Result<Self, ConfigError> {
        if template.is_empty() {
            return Err(ConfigError::EmptyTypeFormat);
        }
        let unmatched = |brace| ConfigError::UnmatchedBrace {
            template: template.to_owned(),
            brace,
        };
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find(['{', '}']) {
            if rest[open..].starts_with('}') {
                return Err(unmatched('}'));
            }
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| unmatched('{'))?;
            let field = match &after[..close] {
                "source" => Field::Source,
                "detail-type" => Field::DetailType,
                "account" => Field::Account,
                "region" => Field::Region,
                name => {
                    return Err(ConfigError::UnknownPlaceholder {
                        template: template.to_owned(),
                        name: name.to_owned(),
                    })
                }
            };
            parts.push(Part::Field(field));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self {
            template: template.to_owned(),
            parts,
        })
    }

    /// The template as given.
    pub fn as_str(&self) -> &str {
        &self.template
    }

    /// The `type` of an EventBridge event with these fields.
    pub(super) fn render(
        &self,
        source: &str,
        detail_type: &str,
        account: &str,
        region: &str,
    ) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text,
                Part::Field(Field::Source) => source,
                Part::Field(Field::DetailType) => detail_type,
                Part::Field(Field::Account) => account,
                Part::Field(Field::Region) => region,
            })
            .collect()
    }
}

impl Default for TypeFormat {
    fn default() -> Self {
        Self {
            template: "{source}".to_owned(),
            parts: vec![Part::Field(Field::Source)],
        }
    }
}

impl FromStr for TypeFormat {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Display for TypeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.template)
    }
}

/// Mapping configuration. The default: type format `{source}`, no source override, event bus
/// `default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingOptions {
    pub(super) type_format: TypeFormat,
    pub(super) source: Option<String>,
    pub(super) event_bus: String,
    pub(super) partition: Option<String>,
}

impl Default for MappingOptions {
    fn default() -> Self {
        Self {
            type_format: TypeFormat::default(),
            source: None,
            event_bus: "default".to_owned(),
            partition: None,
        }
    }
}

impl MappingOptions {
    /// Sets how EventBridge events form the CloudEvent `type`.
    pub fn with_type_format(mut self, type_format: TypeFormat) -> Self {
        self.type_format = type_format;
        self
    }

    /// Sets the CloudEvent `source` of every mapped event (except structured CloudEvents, which
    /// keep theirs) instead of the event bus ARN or queue ARN.
    pub fn with_source(mut self, source: &str) -> Result<Self, ConfigError> {
        if source.is_empty() || source.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::Source(source.to_owned()));
        }
        self.source = Some(source.to_owned());
        Ok(self)
    }

    /// Sets the AWS partition (`aws`, `aws-cn`, `aws-us-gov`, ...) of the default CloudEvent
    /// `source` ARN, as an API answer gave it (e.g. the queue's ARN). Without it the partition is
    /// inferred from the event's region ([`partition_of_region`]). Anything that is not a
    /// partition name (`[a-z0-9-]`, starting with `aws`) is ignored.
    pub fn with_partition(mut self, partition: &str) -> Self {
        let valid = partition.starts_with("aws")
            && partition
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if valid {
            self.partition = Some(partition.to_owned());
        }
        self
    }

    /// The partition of the default `source` ARN for an event from `region`.
    pub(super) fn partition_for(&self, region: &str) -> &str {
        self.partition
            .as_deref()
            .unwrap_or_else(|| partition_of_region(region))
    }

    /// Sets the name of the event bus the rules are on, used in the default CloudEvent `source`.
    pub fn with_event_bus(mut self, name: &str) -> Result<Self, ConfigError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/');
        if !(1..=256).contains(&name.len()) || !name.chars().all(valid_char) {
            return Err(ConfigError::EventBus(name.to_owned()));
        }
        self.event_bus = name.to_owned();
        Ok(self)
    }
}

/// The AWS partition a region belongs to, by the region name prefixes of AWS's own partition
/// table (the `partitions.json` the SDKs ship): `cn-*` is `aws-cn`, `us-gov-*` is `aws-us-gov`,
/// `us-iso-*` `aws-iso`, `us-isob-*` `aws-iso-b`, `eu-isoe-*` `aws-iso-e`, `us-isof-*`
/// `aws-iso-f`, `eusc-*` `aws-eusc`; every other region is in `aws`.
pub fn partition_of_region(region: &str) -> &'static str {
    const PREFIXES: [(&str, &str); 7] = [
        ("us-isob-", "aws-iso-b"),
        ("us-isof-", "aws-iso-f"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
        ("us-gov-", "aws-us-gov"),
        ("cn-", "aws-cn"),
        ("eusc-", "aws-eusc"),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or("aws", |(_, partition)| partition)
}
