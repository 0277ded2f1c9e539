//! What seeded mail says: people, companies, topics and message bodies, drawn from a small
//! deterministic random generator so that the same `--seed` gives the same data.

use crate::mail::inbound::quotes::{QUOTED_CLOSE, QUOTED_OPEN};

/// SplitMix64: tiny, fast and good enough to spread test data (not for secrets).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A number in `0..n` (`n` > 0; 0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: unbiased enough for test data and free of division.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1).max(1) as u64) as i64
    }

    /// A float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty list.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The SplitMix64 finaliser: a well-spread 64-bit hash of `x`.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A person's name in two scripts: as displayed, and transliterated for the address.
struct Name {
    shown: &'static str,
    ascii: &'static str,
}

const fn n(shown: &'static str, ascii: &'static str) -> Name {
    Name { shown, ascii }
}

const FIRST: &[Name] = &[
    n("Anna", "anna"),
    n("Boris", "boris"),
    n("Carla", "carla"),
    n("David", "david"),
    n("Emma", "emma"),
    n("Felix", "felix"),
    n("Grace", "grace"),
    n("Hiro", "hiro"),
    n("Ines", "ines"),
    n("James", "james"),
    n("Kira", "kira"),
    n("Liam", "liam"),
    n("Maria", "maria"),
    n("Noah", "noah"),
    n("Olga", "olga"),
    n("Pedro", "pedro"),
    n("Quinn", "quinn"),
    n("Rosa", "rosa"),
    n("Sam", "sam"),
    n("Tara", "tara"),
    n("Ugo", "ugo"),
    n("Vera", "vera"),
    n("Wei", "wei"),
    n("Yusuf", "yusuf"),
    n("Zoe", "zoe"),
    n("Алексей", "aleksey"),
    n("Дмитрий", "dmitry"),
    n("Екатерина", "ekaterina"),
    n("Наталья", "natalya"),
    n("Сергей", "sergey"),
];

const LAST: &[Name] = &[
    n("Adams", "adams"),
    n("Becker", "becker"),
    n("Costa", "costa"),
    n("Dubois", "dubois"),
    n("Evans", "evans"),
    n("Fischer", "fischer"),
    n("García", "garcia"),
    n("Hansen", "hansen"),
    n("Ito", "ito"),
    n("Jensen", "jensen"),
    n("Kowalski", "kowalski"),
    n("Larsen", "larsen"),
    n("Müller", "mueller"),
    n("Nakamura", "nakamura"),
    n("O'Brien", "obrien"),
    n("Petrov", "petrov"),
    n("Rossi", "rossi"),
    n("Silva", "silva"),
    n("Tanaka", "tanaka"),
    n("Novak", "novak"),
    n("Wagner", "wagner"),
    n("Young", "young"),
    n("Zhang", "zhang"),
    n("Иванова", "ivanova"),
    n("Смирнов", "smirnov"),
    n("Кузнецова", "kuznetsova"),
];

const DOMAINS: &[&str] = &[
    "mail.example.com",
    "inbox.example.net",
    "example.org",
    "post.example.ru",
    "corp.example.io",
];

const COMPANIES: &[&str] = &[
    "Acme Logistics",
    "Blue Harbor Cafe",
    "Northwind Traders",
    "Orbit Studio",
    "Greenleaf Gardens",
    "Polar Bikes",
    "ООО «Ромашка»",
    "Brightline Dental",
    "Cedar & Stone",
    "Tallinn Print House",
];

/// A seeded customer's identity, derived from its id alone, so any conversation can name
/// an earlier customer again without the generator keeping their details in memory.
pub struct Person {
    /// Given name as shown.
    pub first: &'static str,
    /// Family name as shown.
    pub last: &'static str,
    /// Company ("" for most private customers).
    pub company: &'static str,
    first_ascii: &'static str,
    last_ascii: &'static str,
    domain: usize,
}

impl Person {
    /// The customer with database id `id` in a run seeded with `seed`.
    pub fn of(seed: u64, id: i64) -> Person {
        let h = mix(seed ^ (id as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
        let first = &FIRST[(h % FIRST.len() as u64) as usize];
        let last = &LAST[((h >> 16) % LAST.len() as u64) as usize];
        let company = if (h >> 32) % 10 < 4 {
            COMPANIES[((h >> 36) % COMPANIES.len() as u64) as usize]
        } else {
            ""
        };
        Person {
            first: first.shown,
            last: last.shown,
            company,
            first_ascii: first.ascii,
            last_ascii: last.ascii,
            domain: ((h >> 48) % DOMAINS.len() as u64) as usize,
        }
    }

    /// The customer's `k`-th address (0-based); the id keeps every address unique.
    pub fn email(&self, id: i64, k: usize) -> String {
        match k {
            0 => format!(
                "{}.{}{id}@{}",
                self.first_ascii, self.last_ascii, DOMAINS[self.domain]
            ),
            1 => format!(
                "{}{id}@{}",
                self.first_ascii,
                DOMAINS[(self.domain + 1) % DOMAINS.len()]
            ),
            _ => format!("{}.{id}.{k}@{}", self.last_ascii, DOMAINS[self.domain]),
        }
    }

    /// "First Last".
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }
}

/// An agent's (first, last) name for the `k`-th seeded agent.
pub fn agent_name(k: usize) -> (&'static str, &'static str) {
    let first = &FIRST[(k * 7 + 3) % FIRST.len()];
    let last = &LAST[(k * 11 + 5) % LAST.len()];
    (first.ascii_title(), last.shown)
}

impl Name {
    /// Agents get Latin-script names so their login addresses read naturally.
    fn ascii_title(&self) -> &'static str {
        if self.shown.is_ascii() {
            self.shown
        } else {
            "Alex"
        }
    }
}

/// What a conversation is about: its subject and what the customer and agents say.
pub struct Topic {
    /// Subject line.
    pub subject: &'static str,
    /// Sentences a customer writes about it.
    customer: &'static [&'static str],
    /// Sentences an agent answers with.
    agent: &'static [&'static str],
    /// Whether the topic is in Russian.
    russian: bool,
}

const fn t(
    subject: &'static str,
    customer: &'static [&'static str],
    agent: &'static [&'static str],
) -> Topic {
    Topic {
        subject,
        customer,
        agent,
        russian: false,
    }
}

/// The topics; roughly one in eight is in Russian.
pub const TOPICS: &[Topic] = &[
    t(
        "Order #{n} has not arrived",
        &[
            "I placed an order two weeks ago and it still has not arrived.",
            "The tracking page has shown \"in transit\" for nine days now.",
            "Could you check where the parcel is?",
            "I need it before the end of the month, it is a birthday present.",
            "My address is correct in the confirmation email.",
        ],
        &[
            "I checked with the carrier and the parcel is at the local depot.",
            "It should be delivered within two working days.",
            "I have added a note to the shipment so the driver calls you first.",
            "If it does not arrive by Friday we will send a replacement at no cost.",
        ],
    ),
    t(
        "Refund for invoice {n}",
        &[
            "I returned the item last week and have not received my refund yet.",
            "The return label said the refund takes five days.",
            "Please refund the amount to the original card.",
            "I attached the return receipt from the post office.",
        ],
        &[
            "Thank you for sending the receipt.",
            "The refund was issued today and usually shows on your statement within three to five days.",
            "I am sorry it took longer than promised.",
            "You will receive a confirmation email from our payment provider.",
        ],
    ),
    t(
        "Cannot log in to my account",
        &[
            "Since yesterday I cannot log in, the page says my password is wrong.",
            "I reset the password twice but the reset email never arrives.",
            "I use the same email address as always.",
            "Is there a problem on your side?",
        ],
        &[
            "I have sent a new reset link; it is valid for one hour.",
            "Please check your spam folder as well, some providers filter our emails.",
            "Your account was locked after several failed attempts and I have unlocked it.",
            "Let me know if you can log in now.",
        ],
    ),
    t(
        "Question about the annual plan",
        &[
            "We are thinking about switching to the annual plan.",
            "Does the price include all users or is it per seat?",
            "Can we keep our current data when we upgrade?",
            "We would also need an invoice with our VAT number.",
        ],
        &[
            "The annual plan is priced per seat and saves about two months compared to monthly billing.",
            "All your data stays exactly as it is when you upgrade.",
            "You can add your VAT number under Billing, and it will appear on every invoice.",
            "I have applied a discount for the first year to your account.",
        ],
    ),
    t(
        "Damaged item in delivery {n}",
        &[
            "The box arrived crushed and the lamp inside is broken.",
            "I took photos of the packaging before opening it.",
            "I would like a replacement rather than a refund.",
        ],
        &[
            "I am very sorry the lamp arrived broken.",
            "A replacement is on its way and you do not need to return the damaged one.",
            "I have also reported the damage to the carrier.",
        ],
    ),
    t(
        "Feature request: export to CSV",
        &[
            "It would help us a lot if reports could be exported to CSV.",
            "Right now we copy the tables by hand every Monday.",
            "Is this planned?",
        ],
        &[
            "Thank you for the suggestion, I have passed it to the product team.",
            "Export to CSV is on the roadmap for the next quarter.",
            "Meanwhile the API returns the same data as JSON.",
        ],
    ),
    t(
        "Wrong size sent",
        &[
            "I ordered a medium but received a large.",
            "The label on the bag says M but the shirt is clearly L.",
            "How do I exchange it?",
        ],
        &[
            "I have created an exchange for you; the return label is attached to this email.",
            "The medium size will ship as soon as the carrier scans the return.",
        ],
    ),
    Topic {
        subject: "Не пришёл заказ {n}",
        customer: &[
            "Здравствуйте, заказ оплачен десять дней назад, но до сих пор не пришёл.",
            "Трек-номер не отслеживается на сайте почты.",
            "Подскажите, пожалуйста, что с посылкой?",
        ],
        agent: &[
            "Мы проверили отправление: посылка находится в сортировочном центре.",
            "Доставка ожидается в течение двух рабочих дней.",
            "Если посылка не придёт до пятницы, мы отправим заказ повторно.",
        ],
        russian: true,
    },
    Topic {
        subject: "Вопрос по счёту {n}",
        customer: &[
            "В счёте указана неверная сумма доставки.",
            "Прошу выставить исправленный счёт на юридическое лицо.",
        ],
        agent: &[
            "Исправленный счёт прикреплён к этому письму.",
            "Приносим извинения за ошибку.",
        ],
        russian: true,
    },
];

const FILLER: &[&str] = &[
    "I have been a customer for several years and this is the first time something like this happened.",
    "Thanks in advance for your help.",
    "Please let me know if you need any other details from me.",
    "I tried calling but the line was busy.",
    "My colleague had the same problem last month.",
    "Here is my order confirmation number for reference.",
];

const AGENT_OPENERS: &[&str] = &[
    "Thank you for reaching out.",
    "Thanks for your patience while I looked into this.",
    "Thank you for the details.",
];

const NOTES: &[&str] = &[
    "Checked the carrier portal: parcel scanned at the depot on Tuesday.",
    "Customer is a reseller, prioritise.",
    "Refund approved by finance.",
    "Asked the warehouse for photos of the packed item.",
    "Second time this month, consider a goodwill credit.",
    "Escalated to engineering, ticket ENG-{n}.",
];

/// A message body as plain text and as the HTML a sanitized mail would leave.
#[derive(Debug, Clone)]
pub struct Body {
    /// Plain text.
    pub text: String,
    /// HTML.
    pub html: String,
}

impl Body {
    fn from_paragraphs(paragraphs: &[String]) -> Body {
        let mut html = String::new();
        for p in paragraphs {
            html.push_str("<p>");
            html.push_str(&escape(p));
            html.push_str("</p>");
        }
        Body {
            text: paragraphs.join("\n\n"),
            html,
        }
    }

    /// This body followed by quoted history: `quoted` written by `who` at `when`.
    pub fn quoting(&self, quoted: &Body, who: &str, when: &str) -> Body {
        let attribution = format!("On {when}, {who} wrote:");
        let mut text = String::with_capacity(self.text.len() + quoted.text.len() + 120);
        text.push_str(&self.text);
        text.push_str("\n\n");
        text.push_str(&attribution);
        for line in quoted.text.lines() {
            text.push_str("\n> ");
            text.push_str(line);
        }
        let mut html = String::with_capacity(self.html.len() + quoted.html.len() + 160);
        html.push_str(&self.html);
        html.push_str(QUOTED_OPEN);
        html.push_str("<div>");
        html.push_str(&escape(&attribution));
        html.push_str("</div><blockquote type=\"cite\">");
        html.push_str(&quoted.html);
        html.push_str("</blockquote>");
        html.push_str(QUOTED_CLOSE);
        Body { text, html }
    }
}

/// The subject of `topic` with its number filled in.
pub fn subject(topic: &Topic, number: i64) -> String {
    topic.subject.replace("{n}", &(10_000 + number).to_string())
}

/// A customer's message about `topic`, signed `first`.
pub fn customer_message(rng: &mut Rng, topic: &Topic, first: &str, follow_up: bool) -> Body {
    let greeting = if topic.russian {
        "Здравствуйте!"
    } else {
        "Hello,"
    };
    let mut paragraphs = vec![greeting.to_string()];
    let sentences = rng.between(2, 5) as usize;
    let mut para = String::new();
    for i in 0..sentences {
        if i > 0 {
            para.push(' ');
        }
        if follow_up && i == 0 && !topic.russian {
            para.push_str("Thanks for the quick answer. ");
        }
        para.push_str(rng.pick::<&str>(topic.customer));
    }
    paragraphs.push(para);
    if !topic.russian && rng.chance(0.5) {
        let extra = rng.between(1, 3);
        let filler: Vec<&str> = (0..extra).map(|_| *rng.pick(FILLER)).collect();
        paragraphs.push(filler.join(" "));
    }
    paragraphs.push(format!(
        "{}\n{first}",
        if topic.russian {
            "С уважением,"
        } else {
            "Best regards,"
        }
    ));
    Body::from_paragraphs(&paragraphs)
}

/// An agent's reply about `topic` to `customer_first`, signed `agent`.
pub fn agent_reply(rng: &mut Rng, topic: &Topic, customer_first: &str, agent: &str) -> Body {
    let mut paragraphs = vec![if topic.russian {
        format!("Здравствуйте, {customer_first}!")
    } else {
        format!("Hi {customer_first},")
    }];
    let mut para = String::new();
    if !topic.russian {
        para.push_str(rng.pick::<&str>(AGENT_OPENERS));
    }
    for _ in 0..rng.between(2, 4) {
        if !para.is_empty() {
            para.push(' ');
        }
        para.push_str(rng.pick::<&str>(topic.agent));
    }
    paragraphs.push(para);
    paragraphs.push(format!(
        "{}\n{agent}\nCustomer Support",
        if topic.russian {
            "С уважением,"
        } else {
            "Kind regards,"
        }
    ));
    Body::from_paragraphs(&paragraphs)
}

/// An internal note.
pub fn note(rng: &mut Rng, number: i64) -> Body {
    Body::from_paragraphs(&[(*rng.pick(NOTES)).replace("{n}", &(number % 9000).to_string())])
}

/// Generated text as HTML: escaped, line breaks kept.
fn escape(s: &str) -> String {
    crate::error::html_escape(s).replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_stays_in_range() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1000 {
            let x = a.between(3, 7);
            assert_eq!(x, b.between(3, 7));
            assert!((3..=7).contains(&x));
            assert!((0.0..1.0).contains(&a.unit()));
            b.unit();
        }
        assert_eq!(a.below(0), 0);
    }

    #[test]
    fn people_are_stable_and_addresses_unique() {
        let p = Person::of(1, 77);
        assert_eq!(p.full_name(), Person::of(1, 77).full_name());
        assert_ne!(p.email(77, 0), p.email(77, 1));
        assert_ne!(p.email(77, 0), Person::of(1, 78).email(78, 0));
        assert!(p.email(77, 2).is_ascii());
    }

    #[test]
    fn quoted_history_is_folded_like_stored_mail() {
        let mut rng = Rng::new(5);
        let first = customer_message(&mut rng, &TOPICS[0], "Anna", false);
        let reply = agent_reply(&mut rng, &TOPICS[0], "Anna", "Boris <b>").quoting(
            &first,
            "Anna <anna@example.com>",
            "Mon, 6 Jan 2025 10:00",
        );
        assert!(reply.html.contains(QUOTED_OPEN));
        assert!(reply.html.contains("Boris &lt;b&gt;"));
        assert!(reply.text.contains("\n> Hello,"));
    }
}
