//! Variables in signatures and auto-replies: `{agent_name}`, `{agent_email}`,
//! `{agent_job_title}`, `{mailbox_name}`, `{mailbox_email}`, `{customer_name}`,
//! `{conversation_number}`. Values are HTML-escaped when the template is HTML.

/// Values for the variables; empty when unknown.
#[derive(Debug, Default, Clone)]
pub struct Variables {
    /// The agent's full name.
    pub agent_name: String,
    /// The agent's email.
    pub agent_email: String,
    /// The agent's job title.
    pub agent_job_title: String,
    /// The mailbox name.
    pub mailbox_name: String,
    /// The mailbox address.
    pub mailbox_email: String,
    /// The customer's name.
    pub customer_name: String,
    /// The conversation number.
    pub conversation_number: i64,
}

impl Variables {
    /// Replaces every known variable in an HTML template (values escaped).
    pub fn fill_html(&self, template: &str) -> String {
        self.fill(template, crate::error::html_escape)
    }

    /// Replaces every known variable in a plain-text template (a subject line).
    pub fn fill_text(&self, template: &str) -> String {
        self.fill(template, |v| v.to_string())
    }

    fn fill(&self, template: &str, escape: impl Fn(&str) -> String) -> String {
        let number = self.conversation_number.to_string();
        [
            ("{agent_name}", self.agent_name.as_str()),
            ("{agent_email}", self.agent_email.as_str()),
            ("{agent_job_title}", self.agent_job_title.as_str()),
            ("{mailbox_name}", self.mailbox_name.as_str()),
            ("{mailbox_email}", self.mailbox_email.as_str()),
            ("{customer_name}", self.customer_name.as_str()),
            ("{conversation_number}", number.as_str()),
        ]
        .iter()
        .fold(template.to_string(), |acc, (name, value)| {
            acc.replace(name, &escape(value))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_filled_and_escaped() {
        let v = Variables {
            agent_name: "Anna <A>".into(),
            conversation_number: 42,
            ..Default::default()
        };
        assert_eq!(
            v.fill_html("<p>{agent_name} #{conversation_number}</p>"),
            "<p>Anna &lt;A&gt; #42</p>"
        );
        assert_eq!(
            v.fill_text("Re #{conversation_number} {agent_name}"),
            "Re #42 Anna <A>"
        );
        assert_eq!(v.fill_text("{unknown}"), "{unknown}");
    }
}
