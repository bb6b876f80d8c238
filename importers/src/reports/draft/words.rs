//! The words a draft recognises columns and status labels by: Spanish, Portuguese and English,
//! with the Open311 and FixMyStreet names.

/// Words of a column's name that speak for a role, with their weight (negative: against).
const ROLE_WORDS: &[(&str, &[(&str, i32)])] = &[
    (
        "id",
        &[
            ("id", 2),
            ("numero", 3),
            ("nro", 3),
            ("number", 2),
            ("enquiry", 3),
            ("request", 2),
            ("reclamo", 2),
            ("ticket", 3),
            ("case", 1),
            ("protocolo", 4),
            ("solicitud", 2),
            ("radicado", 4),
        ],
    ),
    (
        "created_at",
        &[
            ("open", 3),
            ("opened", 3),
            ("created", 4),
            ("creation", 3),
            ("creacion", 3),
            ("ingreso", 4),
            ("requested", 3),
            ("abertura", 4),
            ("alta", 2),
            ("entrada", 2),
            ("submitted", 2),
            ("reported", 3),
            ("recepcion", 3),
            ("fecha", 1),
            ("data", 1),
            ("date", 1),
            ("dt", 1),
            ("datetime", 1),
        ],
    ),
    (
        "acknowledged_at",
        &[("acknowledged", 4), ("ack", 3), ("asignacion", 3)],
    ),
    (
        "closed_at",
        &[
            ("closed", 4),
            ("close", 4),
            ("cierre", 4),
            ("cerrado", 3),
            ("resolved", 3),
            ("resolucion", 3),
            ("fechamento", 4),
            ("finalizacion", 3),
            ("completed", 2),
            ("fecha", 1),
            ("date", 1),
            ("dt", 1),
        ],
    ),
    (
        "deadline_at",
        &[
            ("target", 4),
            ("due", 4),
            ("deadline", 4),
            ("expected", 3),
            ("vencimiento", 4),
            ("limite", 3),
            ("prazo", 4),
            ("plazo", 4),
            ("dt", 1),
        ],
    ),
    ("on_time", &[("ontime", 6)]),
    (
        "status",
        &[
            ("status", 3),
            ("estado", 3),
            ("state", 2),
            ("situacion", 3),
            ("situacao", 3),
            ("desc", 1),
            ("codigo", -1),
            ("code", -1),
        ],
    ),
    (
        "category",
        &[
            ("type", 3),
            ("tipo", 3),
            ("category", 4),
            ("categoria", 4),
            ("tipoproblema", 4),
            ("problema", 3),
            ("service", 2),
            ("servico", 2),
            ("motivo", 3),
            ("asunto", 2),
            ("assunto", 2),
            ("subject", 2),
            ("reason", 2),
            ("title", 1),
            ("desc", 1),
            ("codigo", -1),
            ("code", -1),
        ],
    ),
    (
        "department",
        &[
            ("department", 4),
            ("dept", 4),
            ("departamento", 4),
            ("area", 3),
            ("agency", 3),
            ("secretaria", 3),
            ("orgao", 3),
            ("dependencia", 3),
            ("responsible", 2),
            ("queue", 1),
            ("desc", 1),
            ("codigo", -1),
            ("code", -1),
        ],
    ),
    (
        "channel",
        &[
            ("source", 3),
            ("channel", 4),
            ("canal", 4),
            ("origen", 3),
            ("origem", 3),
            ("medio", 2),
        ],
    ),
    (
        "lat",
        &[("latitude", 5), ("latitud", 5), ("lat", 4), ("y", 1)],
    ),
    (
        "lon",
        &[
            ("longitude", 5),
            ("longitud", 5),
            ("lon", 4),
            ("lng", 4),
            ("long", 3),
            ("x", 1),
        ],
    ),
    (
        "address",
        &[
            ("address", 4),
            ("direccion", 4),
            ("endereco", 4),
            ("domicilio", 3),
            ("location", 2),
            ("street", 2),
            ("calle", 2),
            ("ubicacion", 2),
            ("localizacao", 2),
            ("addressstring", 4),
        ],
    ),
    (
        "parcel_ref",
        &[
            ("finca", 5),
            ("padron", 5),
            ("predial", 4),
            ("catastral", 4),
            ("cadastral", 4),
            ("maplot", 4),
            ("addressid", 3),
            ("parcel", 3),
            ("parcela", 3),
            ("matricula", 3),
            ("predio", 3),
            ("catastro", 3),
            ("lote", 2),
            ("ml", 2),
        ],
    ),
    (
        "area",
        &[
            ("neighborhood", 4),
            ("neighbourhood", 4),
            ("barrio", 4),
            ("bairro", 4),
            ("colonia", 3),
            ("vereda", 3),
            ("comuna", 3),
            ("localidad", 3),
            ("corregimiento", 3),
            ("distrito", 3),
            ("district", 2),
            ("ward", 2),
            ("zona", 2),
            ("sector", 2),
        ],
    ),
];

/// The words of `role`.
pub(super) fn words(role: &str) -> &'static [(&'static str, i32)] {
    ROLE_WORDS
        .iter()
        .find(|(r, _)| *r == role)
        .map_or(&[], |(_, w)| w)
}

/// Words of a column's name that say it is personal or free text.
pub(super) const PERSONAL: [&str; 27] = [
    "name",
    "nombre",
    "nome",
    "email",
    "correo",
    "mail",
    "phone",
    "telefono",
    "telefone",
    "celular",
    "direccion",
    "endereco",
    "address",
    "location",
    "street",
    "calle",
    "obs",
    "observacion",
    "observaciones",
    "description",
    "descripcion",
    "descricao",
    "comment",
    "comentario",
    "detalle",
    "closure",
    "title",
];

/// The lower-case, accent-free words of a column name: split at non-letters and at lower→upper
/// case changes (`OnTime_Status` → `on`, `time`, `status`; also `ontime`, the joined pair).
pub(super) fn name_words(name: &str) -> Vec<String> {
    let folded: String = name
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ã' | 'Á' | 'Â' | 'Ã' => 'a',
            'é' | 'ê' | 'É' | 'Ê' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'ô' | 'õ' | 'Ó' | 'Ô' | 'Õ' => 'o',
            'ú' | 'Ú' | 'ü' => 'u',
            'ç' | 'Ç' => 'c',
            'ñ' | 'Ñ' => 'n',
            c => c,
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in folded.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        prev_lower = c.is_lowercase();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    let pairs: Vec<String> = out
        .windows(2)
        .map(|w| format!("{}{}", w[0], w[1]))
        .collect();
    out.extend(pairs);
    out
}

/// The proposed normalisation of a status label, by its words.
pub(super) fn status_of(label: &str) -> &'static str {
    let w = name_words(label).join(" ");
    let has = |k: &[&str]| k.iter().any(|k| w.contains(k));
    if has(&["duplic"]) {
        "duplicate"
    } else if has(&[
        "reject",
        "rechaz",
        "anulad",
        "invalid",
        "improced",
        "cancel",
        "indeferid",
    ]) {
        "rejected"
    } else if has(&[
        "sin solucion",
        "sem solucao",
        "not fixed",
        "no fix",
        "unable to fix",
        "no procede",
        "sin arreglo",
    ]) {
        // closed, yet the problem stays: counted as closed, not as fixed
        "resolved:closed_not_fixed"
    } else if has(&[
        "closed", "cerrad", "fechad", "resuel", "resolv", "complet", "finaliz", "conclu",
        "atendid", "solucion",
    ]) {
        "resolved"
    } else if has(&[
        "proceso",
        "progress",
        "andamento",
        "curso",
        "asignad",
        "assigned",
        "ejecuc",
        "tramite",
        "working",
        "acknowledged",
    ]) {
        "in_progress"
    } else {
        "open"
    }
}
