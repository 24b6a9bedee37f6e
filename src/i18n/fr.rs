//! Le catalogue français (la langue par défaut de la salle).

use super::Text;

pub fn text(text: Text) -> &'static str {
    match text {
        Text::PressToJoin => "Appuyez sur le bouton pour rejoindre",
        Text::Joining => "Connexion à la réunion",
        Text::WaitingForHost => "En attente de l'admission de {} par l'organisateur",
        Text::Reconnecting => "Reconnexion",
        Text::Leaving => "Sortie de la réunion",
        Text::CallFailed => "L'appel a échoué",
        Text::Today => "Aujourd'hui",
        Text::NowUntil => "En cours jusqu'à {}",
        Text::NoNetwork => "Pas de réseau",
        Text::MicrophoneMuted => "Micro coupé",
        Text::CameraOff => "Caméra coupée",
        Text::Recorded => "Cette réunion est enregistrée",
        Text::Transcribed => "Cette réunion est transcrite",
        Text::RemoteViewing => "Un administrateur à distance regarde cet écran",
        Text::ThisRoomIs => "Cette salle est {}",
        Text::SetupCode => "Code d'installation : {}",
        Text::SetupFingerprint => "Empreinte du certificat : {}",
    }
}

pub const WEEKDAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

pub const WEEKDAYS_SHORT: [&str; 7] = ["lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim."];

pub const MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
