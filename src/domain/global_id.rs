//! Global ids: the opaque id every object has in the API, base64url of
//! `Type:uuid`. They live here, not in the GraphQL layer, because services
//! name records by them in messages (another lead already has this email).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::enums::ObjectType;
use uuid::Uuid;

/// The GraphQL name of an object type, as used in global ids.
pub fn type_name(object: ObjectType) -> &'static str {
    match object {
        ObjectType::User => "User",
        ObjectType::Account => "Account",
        ObjectType::Lead => "Lead",
        ObjectType::Activity => "Activity",
        ObjectType::Campaign => "Campaign",
        ObjectType::CampaignSpend => "CampaignSpend",
        ObjectType::Opportunity => "Opportunity",
        ObjectType::StageChange => "StageChange",
        ObjectType::WinLossFeedback => "WinLossFeedback",
        ObjectType::Competitor => "Competitor",
        ObjectType::LeadDefinition => "LeadDefinition",
        ObjectType::KpiTarget => "KpiTarget",
    }
}

/// Encodes an object's global id.
pub fn encode(object: ObjectType, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", type_name(object)))
}

/// Decodes any global id into its type name and uuid.
pub fn decode(id: &str) -> Option<(String, Uuid)> {
    let raw = URL_SAFE_NO_PAD.decode(id).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (kind, uuid) = raw.split_once(':')?;
    Some((kind.to_owned(), Uuid::parse_str(uuid).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_global_id_is_base64url_of_type_and_uuid_and_decodes_back() {
        let id = Uuid::nil();
        let encoded = encode(ObjectType::Lead, id);
        assert_eq!(
            encoded,
            "TGVhZDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA"
        );
        assert_eq!(decode(&encoded), Some(("Lead".to_owned(), id)));
        assert_eq!(decode("not an id"), None);
    }
}
